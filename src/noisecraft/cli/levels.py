"""`noisecraft generate RUN --num 8 --width 150 --out DIR [--playable]` for models of game levels: each
level as a text file in the corpus format and a PNG with the agent's path, and levels.json with what the
agent found and how many draws each level took."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from noisecraft.errors import ConfigError, SamplingError


def generate_level_files(model, *, num: int, width: int | None, seed: int, out: Path | None, playable: bool,
                         max_tries: int, options: dict[str, Any]) -> None:
    from noisecraft.models.levels import generate_levels, level_of, level_png
    from noisecraft.models.provenance import image_claims
    from noisecraft.sampling import check_options
    from noisecraft.utils.images import indexed

    if out is None:
        raise ConfigError("--out: a folder for the levels (one .txt in the corpus format and one .png each)")
    if options.get("max_tokens") is not None:
        raise ConfigError("--max-tokens: a level model takes --width (columns) instead")
    game = level_of(model)["game"]
    options = check_options(model, options)
    levels = generate_levels(model, num, width, seed=seed, playable=playable, max_tries=max_tries, **options)
    out.mkdir(parents=True, exist_ok=True)
    claims = image_claims(model, {"num": num, "width": width, "seed": seed, "playable_only": playable, **options})
    records = []
    for i, level in enumerate(levels):
        name = f"level-{i:03d}"
        (out / f"{name}.txt").write_text(level.text, encoding="utf-8")
        (out / f"{name}.png").write_bytes(level_png(level, model, claims=indexed(claims, i)))
        records.append({"file": f"{name}.txt", "playable": level.playable, "draws": level.tries,
                        "path_tiles": sum(len(p) for p in level.paths)})
        typer.echo(f"{out / name}.txt: {'playable' if level.playable else 'NOT playable'} "
                   f"({level.tries} draw{'s' if level.tries > 1 else ''})")
    summary = {"game": game, "width": len(levels[0].rows[0]), "seed": seed, "playable_only": playable,
               "max_tries": max_tries, "options": options, "levels": records,
               "playable_share": sum(r["playable"] for r in records) / len(records)}
    (out / "levels.json").write_text(json.dumps(summary, indent=2) + "\n")
    typer.echo(f"{sum(r['playable'] for r in records)} of {num} levels playable, "
               f"{sum(r['draws'] for r in records)} draws in all; wrote {out}")
    failed = [r["file"] for r in records if not r["playable"]]
    if playable and failed:
        raise SamplingError(f"{len(failed)} level(s) still unplayable after --max-tries {max_tries} draws each "
                            f"(kept the last draw): {', '.join(failed)}")
