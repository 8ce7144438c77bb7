"""Molecule data: RDKit canonicalization, bad SMILES named by line (or skipped and counted), CSV columns,
MOSES's split sizes, property tokens, packed and padded layouts."""

import pytest

from noisecraft.config import DataConfig
from noisecraft.data import build_dataset
from noisecraft.data.molecule_properties import condition_prompt, molecule_properties, parse_condition, property_token
from noisecraft.data.molecules import molecule_splits, read_smiles_file
from noisecraft.errors import ConfigError, DataError


def write(path, text):
    path.write_text(text)
    return path


def test_smiles_are_canonicalized(tmp_path):
    path = write(tmp_path / "m.smi", "OCC  ethanol\n# a comment\n\nC1=CC=CC=C1\nN[C@@H](C)C(O)=O\n")
    assert read_smiles_file(path) == ["CCO", "c1ccccc1", "C[C@H](N)C(=O)O"]


def test_bad_smiles_named_by_line_or_skipped_and_counted(tmp_path):
    path = write(tmp_path / "m.smi", "CCO\nc1ccccc1\nC1CC\nCCN\n")
    with pytest.raises(DataError, match=r"m\.smi:3: not a valid SMILES: 'C1CC'"):
        read_smiles_file(path)
    with pytest.warns(UserWarning, match="skipped 1 invalid SMILES \\(lines 3\\)"):
        assert read_smiles_file(path, skip_bad=True) == ["CCO", "c1ccccc1", "CCN"]


def test_csv_column(tmp_path):
    path = write(tmp_path / "m.csv", "id,smiles\n1,OCC\n2,C(=O)O\n")
    assert read_smiles_file(path, column="smiles") == ["CCO", "O=CO"]
    with pytest.raises(DataError, match="no column 'SMILES'.*id, smiles"):
        read_smiles_file(path)


def test_moses_split_sizes():
    splits = molecule_splits(DataConfig(dataset="moses", test_fraction=0.01))
    held = int(1_584_663 * 0.01)
    assert {k: len(v) for k, v in splits.items()} == {"train": 1_584_663 - held, "valid": held,
                                                      "test": 176_074, "test_scaffolds": 176_225}
    assert splits["train"][0] == "CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1"


def test_config_keys_by_modality():
    assert DataConfig(dataset="moses").tokenizer == "smiles"
    assert DataConfig(smiles_path="x.smi").dataset == "smiles"
    with pytest.raises(ValueError, match="data.image_size is not for molecules"):
        DataConfig(dataset="moses", image_size=32)
    with pytest.raises(ValueError, match="data.properties is for molecule data"):
        DataConfig(dataset="mnist", properties=["qed"])


def test_packed_and_padded_layouts_with_property_tokens(tmp_path):
    path = write(tmp_path / "m.smi", "CCO\nc1ccccc1O\nCC(=O)Oc1ccccc1C(=O)O\n")
    common = dict(smiles_path=path, test_fraction=0.0, cache_dir=tmp_path / "cache", properties=["qed"])
    packed = build_dataset(DataConfig(**common, block_size=8), "train")
    text = packed.tokenizer.decode(packed.tokens.tolist())
    qed = molecule_properties("CCO", ("qed",))["qed"]
    assert text.startswith(f"\n{property_token('qed', qed)}CCO\n<qed:")
    padded = build_dataset(DataConfig(**common, block_size=16, sequences="padded"), "train")
    assert len(padded) == 2 and padded.skipped == 1  # aspirin is longer than 15 tokens
    assert padded.tokenizer.decode(padded[0]["x"].tolist()).split("\n")[:3] == ["", f"{property_token('qed', qed)}CCO", ""]


def test_conditions_parse_and_check_the_vocabulary():
    assert parse_condition("qed=0.9, logp=2") == {"qed": 0.9, "logp": 2.0}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_condition("potency=3")
    vocab = ["\n", "C", "<qed:0.9>", "<qed:0.3>"]
    assert condition_prompt({"qed": 0.91}, vocab) == "\n<qed:0.9>"
    with pytest.raises(ConfigError, match="not trained with logp"):
        condition_prompt({"logp": 1}, vocab)
    with pytest.raises(ConfigError, match="no training molecule had <qed:0.5>"):
        condition_prompt({"qed": 0.5}, vocab)
