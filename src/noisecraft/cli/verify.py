"""`noisecraft verify FILE... [--trust CERT.pem] [--model RUN] [--json]`: who signed an image, with which model
and settings, and whether it changed since. Exit 0 when every file is verified, 3 when any is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from noisecraft.errors import DataError

NOT_VERIFIED = 3


def verify(
    files: list[Path] = typer.Argument(..., help="PNG files to check."),
    trust: Optional[list[Path]] = typer.Option(None, "--trust", help="Also trust signatures certified by this PEM certificate (repeatable)."),
    model: Optional[Path] = typer.Option(None, "--model", help="A run or model folder: also check that its weights made the images."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file instead of text."),
) -> None:
    """Check the content credentials (C2PA) of images noisecraft wrote."""
    from noisecraft.utils.credentials import verify_png

    weights = None
    if model is not None:
        import noisecraft
        from noisecraft.models.provenance import weights_sha256

        weights = weights_sha256(noisecraft.load(model))
    results = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
        found = verify_png(data, str(path), trust=list(trust or []))
        if weights is not None and found.ok and (found.model or {}).get("weights_sha256") != weights:
            found.status, found.message = "other-model", f"{found.message}; but made by other weights than {model}'s"
        results.append(found)
        typer.echo(json.dumps(found.to_json(), ensure_ascii=False) if as_json else describe(found, weights is not None))
    if not all(r.ok for r in results):
        raise typer.Exit(NOT_VERIFIED)


def describe(found, checked_model: bool) -> str:
    lines = [f"{found.file}: {found.status}: {found.message}"]
    if found.status == "none":
        if found.unsigned_settings:
            lines.append(f"  unsigned settings chunk (anyone can write one): {json.dumps(found.unsigned_settings)}")
        return "\n".join(lines)
    if found.ai_generated is not None:
        lines.append(f"  generator: {found.generator or '?'}; {'AI-generated' if found.ai_generated else 'not declared AI-generated'} ({found.source_type})")
    if found.model and "entries" in found.model:  # a bench suite's strip: one row per entry
        lines += [f"  {e['entry']}: {e['family']}, weights sha256 {e['weights_sha256']}" for e in found.model["entries"]]
    elif found.model:
        m = found.model
        lines.append(f"  model: {m.get('name', '')} {m.get('family', '?')}, weights sha256 {m.get('weights_sha256', '?')}"
                     + (", matches --model" if checked_model and found.ok else ""))
    if found.settings:
        lines.append(f"  settings: {json.dumps(found.settings, ensure_ascii=False)}")
    if found.failures and found.status not in ("verified", "untrusted"):
        lines.append(f"  failures: {', '.join(found.failures)}")
    return "\n".join(lines)
