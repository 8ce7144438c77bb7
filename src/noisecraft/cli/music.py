"""`noisecraft generate RUN` for models of music: harmonize (--melody), fill voices or bars (--inpaint),
continue (--prompt-file), or compose from nothing (--bars N). Writes MIDI, MusicXML, a piano-roll PNG and a
WAV beside each other: --out chorale.mid gives chorale.mid, .musicxml, .png, .wav (chorale-2.* ... for --num > 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from noisecraft.errors import ConfigError

def generate_music(model, *, melody: Path | None, inpaint: Path | None, prompt_file: Path | None,
                   voices: str | None, bars: str | None, num: int, seed: int, out: Path | None,
                   formats: str | None, options: dict[str, Any]) -> list[Path]:
    from noisecraft import compose
    from noisecraft.data.music_files import read_music
    from noisecraft.data.music_output import write_music_files

    given = [n for n, v in (("--melody", melody), ("--inpaint", inpaint), ("--prompt-file", prompt_file)) if v]
    if len(given) > 1:
        raise ConfigError(f"{given[0]} and {given[1]}: choose one task")
    if voices and not inpaint:
        raise ConfigError("--voices: only with --inpaint FILE")
    chosen_formats = parse_formats(formats)  # a typo fails before the sampling
    options = {k: v for k, v in options.items() if v is not None}
    if melody:
        pieces = compose.harmonize(model, read_music(melody), num, seed, **options)
    elif inpaint:
        pieces = compose.inpaint(model, read_music(inpaint), voices.split(",") if voices else None, bars, num, seed, **options)
    elif prompt_file:
        pieces = compose.continue_music(model, read_music(prompt_file), bar_count(bars, 4), num, seed, **options)
    else:
        pieces = compose.compose(model, bar_count(bars, 8), num, seed, **options)
    from noisecraft.models.provenance import image_claims

    out = out or Path("music.mid")
    claims = image_claims(model, {"family": model.family, "seed": seed, "num": num, **options,
                                  "task": "harmonize" if melody else "inpaint" if inpaint else
                                  "continue" if prompt_file else "compose"})
    written = []
    for i, piece in enumerate(pieces):
        stem = out.with_suffix("") if len(pieces) == 1 else out.with_name(f"{out.stem}-{i + 1}")
        written += write_music_files(piece, stem, chosen_formats, claims=claims)
    for path in written:
        typer.echo(f"wrote {path}", err=True)
    return written


def bar_count(text: str | None, default: int) -> int:
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"--bars {text!r}: a number of bars (a range A-B only with --inpaint)")
    return int(text)


def parse_formats(text: str | None) -> list[str]:
    from noisecraft.data.music_output import FORMATS

    chosen = [f.strip().lower().lstrip(".") for f in (text or ",".join(FORMATS)).split(",") if f.strip()]
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise ConfigError(f"--formats {bad[0] if bad else text!r}: choose from {', '.join(FORMATS)}")
    return chosen
