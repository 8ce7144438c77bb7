"""What `noisecraft datasets list / show` prints: the built-in data sets and the image-folder loader."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noisecraft.data.digits import NUM_EXAMPLES as DIGITS_EXAMPLES
from noisecraft.data.image_folder import EXTENSIONS
from noisecraft.data.mnist import MIRRORS, PACKAGE_DIR
from noisecraft.data.text import SHAKESPEARE_FILE, SHAKESPEARE_URL
from noisecraft.data.transforms import SPLIT_SEED, holdout_size
from noisecraft.errors import DataError


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    shape: tuple[int, ...] | None  # (C, H, W); None where it depends on the data
    splits: dict[str, int] | None  # examples per split; None where it depends on the data
    source: str
    recipe: str  # how a recipe's `data:` section selects it
    citation: str  # who to credit, and the license
    locate: Callable[[], Path | None] = field(repr=False, compare=False, default=lambda: None)
    modality: str = "image"

    @property
    def location(self) -> Path | None:
        """Where the data lives on this machine (None: nowhere fixed, or not installed)."""
        return self.locate()

    def to_dict(self) -> dict[str, Any]:
        location = self.location
        return {
            "name": self.name,
            "modality": self.modality,
            "description": self.description,
            "shape": list(self.shape) if self.shape else None,
            "splits": dict(self.splits) if self.splits else None,
            "source": self.source,
            "location": str(location) if location else None,
            "recipe": self.recipe,
            "citation": self.citation,
        }


def _sklearn_digits_file() -> Path | None:
    """Found without importing scikit-learn, which is slow to import."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    return path if path.exists() else None


def _moses_folder() -> Path | None:
    """molsets' data folder, found without importing it."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "dataset" / "data"
    return path if path.exists() else None


# DataConfig.test_fraction's default (a test keeps them equal); not imported, so that config.py may import
# noisecraft.data without a cycle.
_DEFAULT_TEST_FRACTION = 0.1
_DIGITS_TEST = holdout_size(DIGITS_EXAMPLES, _DEFAULT_TEST_FRACTION)

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mnist",
            description="70,000 handwritten digits 0-9, grayscale 28x28, labelled",
            shape=(1, 28, 28),
            splits={"train": 60000, "test": 10000},
            source="shipped in the noisecraft package (IDX .gz); download mirrors (data.source: download): "
            + ", ".join(MIRRORS),
            recipe="data: {dataset: mnist}",
            citation="Y. LeCun, C. Cortes, C. J. C. Burges, The MNIST database of handwritten digits (1998); "
            "license CC BY-SA 3.0",
            locate=lambda: PACKAGE_DIR,
        ),
        DatasetInfo(
            name="digits",
            description=f"{DIGITS_EXAMPLES:,} handwritten digits 0-9, grayscale 8x8 (16 levels), labelled; "
            f"tiny, for smoke tests. No official split: data.test_fraction (default {_DEFAULT_TEST_FRACTION}) "
            f"is held out by a permutation with seed {SPLIT_SEED}",
            shape=(1, 8, 8),
            splits={"train": DIGITS_EXAMPLES - _DIGITS_TEST, "test": _DIGITS_TEST},
            source="scikit-learn's bundled copy (sklearn.datasets.load_digits)",
            recipe="data: {dataset: digits}",
            citation="E. Alpaydin, C. Kaynak, Optical Recognition of Handwritten Digits, UCI Machine Learning "
            "Repository (1998); license CC BY 4.0",
            locate=_sklearn_digits_file,
        ),
        DatasetInfo(
            name="tinyshakespeare",
            description="Tiny Shakespeare: 1,115,394 characters (65 distinct) of Shakespeare's plays; the last 10% "
            "of the characters is the validation (test) split, as in nanoGPT",
            shape=None,
            splits={"train": 1003854, "test": 111540},
            source=f"shipped in the noisecraft package; download (data.source: download): {SHAKESPEARE_URL}",
            recipe="data: {dataset: tinyshakespeare, tokenizer: char, block_size: 128}",
            citation="A. Karpathy, char-rnn (2015), from the works of William Shakespeare (public domain)",
            locate=lambda: SHAKESPEARE_FILE,
            modality="text",
        ),
        DatasetInfo(
            name="text",
            description="any UTF-8 .txt file, or a folder of them (searched recursively, concatenated in path order); "
            "tokenized with data.tokenizer (char or bpe) into memory-mapped arrays cached under cache_dir/tokens",
            shape=None,
            splits=None,
            source="your own files",
            recipe="data: {text_path: PATH, tokenizer: bpe, vocab_size: 2048, block_size: 128}",
            citation="yours: check the license of your text",
            modality="text",
        ),
        DatasetInfo(
            name="moses",
            description="MOSES (molecular sets): drug-like molecules from ZINC as canonical SMILES, with MOSES's "
            "test and scaffold-test splits and their precomputed metric statistics; `valid` is the last "
            "data.test_fraction of train",
            shape=None,
            splits={"train": 1584663, "test": 176074, "test_scaffolds": 176225},
            source="shipped in the molsets 0.3.1 wheel (./install.sh installs it)",
            recipe="data: {dataset: moses, tokenizer: smiles, block_size: 64}",
            citation="D. Polykovskiy et al., Molecular Sets (MOSES): A Benchmarking Platform for Molecular "
            "Generation Models, Frontiers in Pharmacology (2020); license MIT",
            locate=_moses_folder,
            modality="molecules",
        ),
        DatasetInfo(
            name="smiles",
            description="any .smi (first field of each line) or .csv (data.smiles_column) of SMILES, canonicalized "
            "with RDKit; data.test_fraction held out from the end as the test split",
            shape=None,
            splits=None,
            source="your own files",
            recipe="data: {smiles_path: PATH, tokenizer: smiles}",
            citation="yours: check the license of your molecules",
            modality="molecules",
        ),
        DatasetInfo(
            name="image_folder",
            description="any folder of images, searched recursively (" + ", ".join(EXTENSIONS) + "); "
            "class labels from first-level sub-folder names with data.labels: true; captions (data.captions: true) from "
            "captions.jsonl, captions.csv (file, caption) or a side-car .txt per image; data.test_fraction "
            f"(default {_DEFAULT_TEST_FRACTION}) held out as the test split by a permutation with seed {SPLIT_SEED}",
            shape=None,
            splits=None,
            source="your own files",
            recipe="data: {image_folder: PATH, image_size: 64}",
            citation="yours: check the license of your images",
        ),
        DatasetInfo(
            name="shapes",
            description="the shapes world (../shared/docs/shapes-world.md): black 64x64 canvases with 1-4 flat "
            "objects (8 colours, circle/square/triangle/cross, small/big, 3x3 cells) and captions in its grammar "
            "(single object, counting, two objects, relations); procedural and seeded, data.limit scenes "
            "(default 20,000 train; test: 2,000, data.limit takes fewer, never more); held-out colour-shape "
            "pairs ((colour + shape) % 4 == 3, e.g. red cross, blue square) never appear in training. "
            "data.image_size: 32 keeps every other pixel",
            shape=(3, 64, 64),
            splits={"train": 20000, "test": 2000},
            source="drawn by noisecraft (noisecraft/data/shapes.py); nothing to download",
            recipe="data: {dataset: shapes, image_size: 32}",
            citation="noisecraft; the world follows GenEval's categories (Ghosh et al. 2023, arXiv:2310.11513)",
        ),
    )
}


def _shared(name: str) -> Path | None:
    from noisecraft.utils.paths import shared_datasets_dir

    folder = shared_datasets_dir() / name
    return folder if folder.is_dir() else None


def _vglc(folder: str) -> Path | None:
    from noisecraft.utils.paths import shared_datasets_dir

    path = shared_datasets_dir() / "vglc" / folder
    return path if path.is_dir() else None


_VGLC = ("the VGLC (github.com/TheVGLC/TheVGLC), found beside the checkout in ../shared/datasets/vglc "
         "(or $NOISECRAFT_SHARED_DATASETS)")
_VGLC_CITATION = ("A. Summerville, S. Snodgrass, M. Guzdial, C. Holmgard, A. K. Hoover, A. Isaksen, A. Nealen, "
                  "J. Togelius, The VGLC: The Video Game Level Corpus, PCG Workshop 2016; license MIT")
for _info in (
    DatasetInfo(
        name="smb", modality="levels", shape=None, splits={"train": 15 - holdout_size(15, _DEFAULT_TEST_FRACTION),
                                                           "test": holdout_size(15, _DEFAULT_TEST_FRACTION)},
        description="Super Mario Bros: the 15 levels of the VGLC, 14 tiles high, 149-373 wide, 13 tile kinds "
        "(legend: smb.json); splits count whole levels; one-hot windows (data.window, data.stride, data.pad_to) "
        "or for token models one token per column (data.encoding: columns) or per tile, snaking up and down the "
        "columns (data.encoding: tiles)",
        source=_VGLC, recipe="data: {dataset: smb, window: 16, pad_to: 16}  |  {dataset: smb, encoding: columns}",
        citation=_VGLC_CITATION, locate=lambda: _vglc("super-mario-bros")),
    DatasetInfo(
        name="zelda", modality="levels", shape=None, splits={"train": 459 - holdout_size(459, _DEFAULT_TEST_FRACTION),
                                                             "test": holdout_size(459, _DEFAULT_TEST_FRACTION)},
        description="The Legend of Zelda: 459 dungeon rooms of 16 x 11 tiles cut from the VGLC's 18 dungeon maps, "
        "10 tile kinds (legend: README.txt); splits count rooms",
        source=_VGLC, recipe="data: {dataset: zelda, pad_to: 16}  |  {dataset: zelda, encoding: columns}",
        citation=_VGLC_CITATION, locate=lambda: _vglc("zelda")),
    DatasetInfo(
        name="level_folder", modality="levels", shape=None, splits=None,
        description="any folder of level .txt files in a game's corpus format (data.game: smb or zelda); an unknown "
        "tile is an error naming the file, line and column",
        source="your own files", recipe="data: {level_folder: PATH, game: smb}", citation="yours"),
):
    DATASETS[_info.name] = _info


for _info in (  # music: after the others, so their order (and listing) stays as it was
    DatasetInfo(
        name="jsb-chorales",
        description="382 Bach chorales, the standard split of Boulanger-Lewandowski et al. (2012): quarter-note "
        "frames (pitch sets, data.music.resolution: quarter; the published frame-NLL data) or 16th-note SATB "
        "voices (resolution: 16th, Coconet's); as piano rolls or event tokens (data.music.representation)",
        shape=None,
        splits={"train": 229, "valid": 76, "test": 77},
        source="../shared/datasets/jsb-chorales beside the checkout ($NOISECRAFT_SHARED_DATASETS); not in the package",
        recipe="data: {dataset: jsb-chorales, music: {resolution: 16th, voices: satb, window: 64}}",
        citation="J. S. Bach (public domain); encodings: czhuang/JSB-Chorales-dataset; split: N. Boulanger-"
        "Lewandowski, Y. Bengio, P. Vincent, ICML 2012",
        locate=lambda: _shared("jsb-chorales"),
        modality="music",
    ),
    DatasetInfo(
        name="bach-chorales",
        description="the Bach chorales bundled with music21 (MusicXML: durations, ties, fermatas), 16th-note SATB, "
        "split as the JSB items they match (music21-match.json); parsed once, cached under cache_dir/music",
        shape=None,
        splits=None,
        source="the music21 package (offline); the split from ../shared/datasets/jsb-chorales/music21-match.json",
        recipe="data: {dataset: bach-chorales}",
        citation="J. S. Bach (public domain); music21 corpus (BSD licence)",
        modality="music",
    ),
    DatasetInfo(
        name="music_folder",
        description="any folder of MIDI / MusicXML files (.mid .midi .musicxml .xml .mxl), searched recursively; 4 "
        "tracks/parts = SATB; a broken file is an error naming it (data.music.skip_bad_files: skip and count)",
        shape=None,
        splits=None,
        source="your own files",
        recipe="data: {dataset: music_folder, music: {folder: PATH}}",
        citation="yours: check the licence of your music",
        modality="music",
    ),
):
    DATASETS[_info.name] = _info


def get_dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}") from None
