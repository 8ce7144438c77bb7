import json

import pytest

from noisecraft.config import DataConfig
from noisecraft.data import DATASETS, get_dataset_info, load_digits
from noisecraft.data.catalog import _DEFAULT_TEST_FRACTION
from noisecraft.errors import DataError


def test_entries_are_json_and_locations_exist():
    music = {"jsb-chorales", "bach-chorales", "music_folder"}
    levels = {"smb", "zelda", "level_folder"}
    molecules = {"moses", "smiles"}
    assert set(DATASETS) == {"mnist", "digits", "tinyshakespeare", "text", "image_folder"} | music | levels | molecules | {"shapes"}
    for info in DATASETS.values():
        record = json.loads(json.dumps(info.to_dict()))
        modality = "text" if info.name in ("tinyshakespeare", "text") else "levels" if info.name in levels else \
            "music" if info.name in music else "molecules" if info.name in molecules else "image"
        assert record["name"] == info.name and record["modality"] == modality
    assert (DATASETS["mnist"].location / "train-images-idx3-ubyte.gz").is_file()
    assert DATASETS["digits"].location.name == "digits.csv.gz" and DATASETS["digits"].location.is_file()
    assert DATASETS["image_folder"].location is None
    assert DATASETS["tinyshakespeare"].location.stat().st_size == 1115394
    assert (DATASETS["moses"].location / "test_scaffolds_stats.npz").is_file()
    assert (DATASETS["smb"].location / "smb.json").is_file() and (DATASETS["zelda"].location / "README.txt").is_file()


def test_digits_split_sizes_match_recipes():
    assert _DEFAULT_TEST_FRACTION == DataConfig.model_fields["test_fraction"].default
    splits = DATASETS["digits"].splits
    assert splits["test"] == len(load_digits("test", test_fraction=_DEFAULT_TEST_FRACTION))
    assert splits["train"] + splits["test"] == 1797


def test_shakespeare_split_sizes_are_the_loaded_ones():
    from noisecraft.data import build_dataset

    for split, chars in DATASETS["tinyshakespeare"].splits.items():
        assert len(build_dataset(DataConfig(dataset="tinyshakespeare", block_size=8), split).tokens) == chars


def test_unknown_name_lists_known():
    assert get_dataset_info("mnist").shape == (1, 28, 28)
    with pytest.raises(DataError, match="unknown data set 'cifar'; known: mnist, digits, tinyshakespeare, text, moses, smiles, image_folder"):
        get_dataset_info("cifar")
