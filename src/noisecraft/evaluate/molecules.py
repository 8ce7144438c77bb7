"""`noisecraft evaluate RUN --metrics moses`: sample molecules, score them with MOSES's metrics against the
run's data (MOSES's own reference statistics for `dataset: moses`), and leave beside metrics.json the
samples (`moses-samples.smi`), property histograms against the test split (`moses-properties.png`) and a
grid of drawn molecules (`molecules.png`)."""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from noisecraft.data.molecules import moses_smiles, reference_smiles
from noisecraft.evaluate.moses_metrics import PROPERTY_KEYS, moses_metrics, moses_statistics, set_statistics
from noisecraft.molecule_sampling import generate_molecules


@cache
def _cached_statistics(smiles: tuple[str, ...], n_jobs: int) -> dict[str, Any]:
    return set_statistics(list(smiles), n_jobs=n_jobs)


def references(data) -> tuple[dict[str, Any], dict[str, Any] | None, list[str], str]:
    """(test statistics, scaffold-test statistics or None, train SMILES for novelty, a description)."""
    if data.dataset == "moses":
        return (moses_statistics("test"), moses_statistics("test_scaffolds"), list(moses_smiles("train")),
                "MOSES test / test_scaffolds statistics shipped in molsets 0.3.1; novelty against MOSES train")
    test = tuple(reference_smiles(data, "test"))
    return (_cached_statistics(test, 2), None, reference_smiles(data, "train"),
            f"the run's test split ({len(test)} molecules); novelty against its train split")


def score_molecules(smiles: list[str], data, n_jobs: int = 2, k: tuple[int, ...] = (1000, 10000)) -> tuple[dict[str, float], list[dict]]:
    """MOSES metrics of `smiles` against the data's references, and the per-molecule features."""
    ptest, ptest_sf, train, _ = references(data)
    features: list[dict] = []
    metrics = moses_metrics(smiles, ptest=ptest, ptest_scaffolds=ptest_sf, train=train, k=k, n_jobs=n_jobs,
                            features=features)
    return metrics, features


def evaluate_molecule_run(run, model, data, *, num: int, seed: int, sample_options: dict[str, Any] | None = None,
                          condition: str | None = None, n_jobs: int = 2) -> tuple[dict[str, Any], dict[str, Any]]:
    """(protocol info, result) for `evaluator.finish`; writes the samples and figures into the run folder."""
    t = time.perf_counter()
    smiles = generate_molecules(model, num, seed=seed, condition=condition, **(sample_options or {}))
    sampling = time.perf_counter() - t
    (run.root / "moses-samples.smi").write_text("\n".join(smiles) + "\n")
    t = time.perf_counter()
    metrics, features = score_molecules(smiles, data, n_jobs=n_jobs)
    scoring = time.perf_counter() - t
    ptest, _, _, described = references(data)
    if features:
        plot_properties(features, ptest, run.root / "moses-properties.png")
        draw_molecules([f["smiles"] for f in features[:24]], run.root / "molecules.png")
    protocol = {"name": "moses", "num_samples": num, "seed": seed, "condition": condition, "reference": described,
                "n_jobs": n_jobs, "sample_options": sample_options or {}}
    return protocol, {"metrics": metrics, "timing": {"sampling_seconds": sampling, "metrics_seconds": scoring}}


def plot_properties(features: list[dict], ptest: dict[str, Any], path: Path) -> Path:
    """Histograms of logP, SA, QED and weight: generated against the test set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.5))
    for ax, name in zip(axes, PROPERTY_KEYS):
        ref = np.asarray(ptest[name]["values"], dtype=float)
        gen = np.asarray([f[name] for f in features], dtype=float)
        bins = np.linspace(min(ref.min(), gen.min()), max(ref.max(), gen.max()), 50)
        ax.hist(ref, bins=bins, density=True, alpha=0.5, label="test")
        ax.hist(gen, bins=bins, density=True, alpha=0.5, label="generated")
        ax.set_title(name)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def draw_molecules(smiles: list[str], path: Path, per_row: int = 6, legends: list[str] | None = None) -> Path:
    """A grid of RDKit drawings, each with its SMILES (or the given legend) under it."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    pairs = [(m, legends[i] if legends else s[:40]) for i, (m, s) in enumerate(zip(mols, smiles)) if m is not None]
    image = Draw.MolsToGridImage([m for m, _ in pairs], molsPerRow=per_row, subImgSize=(250, 200),
                                 legends=[text for _, text in pairs])
    image.save(path)
    return path


def molecule_cards(smiles: list[str], stem: Path, claims: dict | None = None) -> list[tuple[str | None, str]]:
    """For the studio: (PNG path, caption) per sample: the drawing, its SMILES and properties (no drawing
    and "invalid" for a SMILES RDKit cannot read); each drawing signed with `claims` when given."""
    import numpy as np
    from rdkit import Chem
    from rdkit.Chem import Draw

    from noisecraft.data.molecule_properties import molecule_properties
    from noisecraft.utils.images import encode_png, indexed

    cards = []
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s) if s else None
        if mol is None:
            cards.append((None, f"{s}  |  invalid"))
            continue
        path = stem.with_name(f"{stem.name}-{i:02d}.png")
        drawing = Draw.MolToImage(mol, size=(300, 240))
        if claims is None:
            drawing.save(path)
        else:
            path.write_bytes(encode_png(np.asarray(drawing.convert("RGB")), claims=indexed(claims, i), title=path.name))
        p = molecule_properties(s) or {}
        cards.append((str(path), f"{s}  |  QED {p['qed']:.2f} · logP {p['logp']:.2f} · SA {p['sa']:.2f} · MW {p['mw']:.0f}"))
    return cards
