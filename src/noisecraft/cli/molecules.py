"""`noisecraft generate RUN --num 10000 --out mols.smi [--condition qed=0.9]` for models of molecules:
one SMILES a line, to the file or to the terminal, with how many RDKit can read."""

from __future__ import annotations

from pathlib import Path

import typer


def generate_molecules_cli(model, *, num: int, seed: int, out: Path | None, condition: str | None, **options) -> None:
    from noisecraft.evaluate.moses_metrics import canonical, pmap
    from noisecraft.molecule_sampling import generate_molecules

    smiles = generate_molecules(model, num, seed=seed, condition=condition, **options)
    if out is None:
        typer.echo("\n".join(smiles))
    else:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(smiles) + "\n")
    valid = sum(c is not None for c in pmap(canonical, smiles, 2))
    where = f" to {out}" if out is not None else ""
    typer.echo(f"wrote {len(smiles)} SMILES{where}: {valid} valid ({valid / len(smiles):.1%})", err=True)
