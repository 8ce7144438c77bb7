"""Our MOSES metrics against molsets' own `get_all_metrics` on a fixed small sample: the same numbers."""

import warnings

import pytest

from noisecraft.data.molecules import moses_smiles
from noisecraft.evaluate.moses_metrics import METRIC_NAMES, moses_metrics, moses_statistics, set_statistics
from noisecraft.evaluate.molsets_compat import import_molsets

INVALID = ["C1CC", "", "c1cccc1", "CC(C", "[Na+].[Cl-]"]  # unclosed ring, empty, bad aromatic, bad branch, (valid salt)


@pytest.fixture(scope="module")
def sample():
    train = list(moses_smiles("train")[:500])
    test, scaffolds = list(moses_smiles("test")[:50]), list(moses_smiles("test_scaffolds")[:50])
    gen = train[:30] + test[:10] + list(moses_smiles("test")[500:520]) + INVALID + train[:5] + ["C[N+](C)(C)C", "C1CCCCCCCC1"]
    return gen, train, test, scaffolds




def test_same_numbers_as_molsets(sample, one_thread):
    gen, train, test, scaffolds = sample
    import_molsets()
    from moses.metrics import get_all_metrics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = get_all_metrics(gen, k=[50, 100], n_jobs=1, test=test, test_scaffolds=scaffolds, train=train)
        ours = moses_metrics(gen, k=[50, 100], ptest=set_statistics(test), ptest_scaffolds=set_statistics(scaffolds),
                             train=train, n_jobs=2)
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(float(value), rel=1e-9, abs=1e-12), name
    assert 0 < ours["valid"] < 1 and 0 < ours["Novelty"] < 1  # the sample exercises both sides of each


def test_moses_reference_statistics_ship_with_molsets():
    stats = moses_statistics("test_scaffolds")
    assert stats["FCD"]["mu"].shape == (512,) and stats["SNN"]["fps"].shape == (176_225, 1024)
    assert set(METRIC_NAMES) >= {f"{m}/TestSF" for m in ("FCD", "SNN", "Frag", "Scaf")}
