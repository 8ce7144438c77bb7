"""Recipes: one YAML file = data + model + training (+ evaluation), validated into typed configs.

Every section is a pydantic model that forbids unknown keys, so a typo is an error naming the key path
(`train.bacth_size`) and what is allowed, never a silently ignored setting. The `model` section is
validated by the config class of the family it names: `noisecraft.models.registry.load_recipe`, so that
this module, below every model, never imports one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from noisecraft.errors import ConfigError

RECIPES_DIR = Path(__file__).parent / "recipes"


class StrictModel(BaseModel):
    """Base of every config section: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


IMAGE_DATA_KEYS = ("image_folder", "image_size", "channels", "labels", "skip_bad_files", "max_image_pixels", "captions",
                   "caption_tokens")
TEXT_DATA_KEYS = ("text_path", "tokenizer", "vocab_size", "block_size", "stride")
TEXT_DATASETS = ("tinyshakespeare", "text")
MOLECULE_DATA_KEYS = ("smiles_path", "smiles_column", "skip_bad_smiles", "properties", "sequences")
MOLECULE_DATASETS = ("moses", "smiles")  # data/molecules.py
LEVEL_DATA_KEYS = ("level_folder", "game", "window", "encoding", "pad_to")
TOKEN_LEVEL_ENCODINGS = ("columns", "tiles")  # game levels as a token stream: a token per column, or per tile
LEVEL_DATASETS = ("smb", "zelda", "level_folder")
MUSIC_DATASETS = ("jsb-chorales", "bach-chorales", "music_folder")


class MusicDataConfig(StrictModel):
    """How music (jsb-chorales, bach-chorales, a folder of MIDI / MusicXML) is shaped for a model."""

    representation: Literal["roll", "tokens"] = Field("roll", description="piano roll windows [voices, steps, pitches], "
                                                      "or event tokens for a token model (data.block_size)")
    resolution: Literal["quarter", "16th"] = Field("16th", description="steps of the grid; jsb-chorales at quarter "
                                                   "are the published frames (pitch sets, no voices)")
    voices: Literal["satb", "merged"] = Field("satb", description="four voices, or one roll of pitch sets "
                                              "(DeepComposer's single piano roll)")
    window: int = Field(64, ge=4, le=4096, description="roll: steps per training window")
    stride: int | None = Field(None, ge=1, description="roll: steps between windows (default window / 2)")
    transpose: int = Field(0, ge=0, le=12, description="train: shift each window by a random -N..N semitones")
    low: int = Field(21, ge=0, le=127, description="roll: lowest pitch (MIDI; 21 = A0, the piano's lowest key)")
    high: int = Field(108, ge=0, le=127, description="roll: highest pitch (108 = C8)")
    folder: Path | None = Field(None, description="music_folder: a folder of .mid / .musicxml / .mxl files")
    skip_bad_files: bool = Field(False, description="music_folder: skip unreadable files (counted in a warning)")

    @model_validator(mode="after")
    def _check(self) -> "MusicDataConfig":
        if self.high <= self.low:
            raise ValueError(f"data.music.high ({self.high}) must be above data.music.low ({self.low})")
        return self


class DataConfig(StrictModel):
    """Where the training examples come from and how they are shaped."""

    dataset: Literal["mnist", "digits", "image_folder", "tinyshakespeare", "text", "smb", "zelda", "level_folder",
                     "moses", "smiles", "jsb-chorales", "bach-chorales", "music_folder", "shapes"] | None = Field(
        None, description="a built-in data set (`noisecraft datasets list`); default mnist, or image_folder / text "
        "when image_folder / text_path is set"
    )
    image_folder: Path | None = Field(None, description="any folder of images, searched recursively")
    image_size: int | None = Field(None, ge=4, le=1024, description="resize (+ center crop) to this size")
    channels: Literal[1, 3] | None = Field(None, description="1 = grayscale, 3 = RGB; default: the data's own")
    labels: bool = Field(False, description="image_folder: class labels from sub-folder names")
    skip_bad_files: bool = Field(False, description="image_folder: skip unreadable images (and bad caption rows) with a warning")
    captions: bool = Field(False, description="image_folder: captions from captions.jsonl, captions.csv or a side-car .txt per image")
    caption_tokens: int = Field(24, ge=2, le=512, description="captioned images: caption length in word tokens (<start> included)")
    max_image_pixels: int = Field(64_000_000, ge=1, description="image_folder: refuse a larger image (a decompression "
                                  "bomb) from its header, before decoding it")
    text_path: Path | None = Field(None, description="a UTF-8 .txt file, or a folder of them (searched recursively)")
    tokenizer: Literal["char", "bpe", "smiles", "selfies"] = Field(
        "char", description="text: characters, or byte-level BPE trained on the corpus; molecules: smiles or selfies tokens")
    vocab_size: int = Field(512, ge=256, le=1 << 20, description="text: BPE vocabulary size (the 256 bytes + merges)")
    block_size: int = Field(64, ge=2, le=1 << 16, description="text: tokens of context the model is trained on (level "
                            "columns: columns; level tiles: tiles and markers, rows + 1 a column)")
    stride: int | None = Field(None, ge=1, description="text: tokens between training windows (default block_size); "
                               "levels: columns, or tokens for level tiles (default 1)")
    level_folder: Path | None = Field(None, description="any folder of level .txt files in a game's corpus format")
    game: Literal["smb", "zelda"] | None = Field(None, description="levels: whose tiles (default: the data set's)")
    window: int | None = Field(None, ge=2, le=1024, description="levels: columns per training window (smb default 16; "
                               "a zelda window is a room)")
    encoding: Literal["onehot", "columns", "tiles"] = Field("onehot", description="levels: one-hot tile channels "
                                                            "(image families), or for token models one token per "
                                                            "column or one per tile (snaking, a marker a column)")
    pad_to: int | None = Field(None, ge=2, le=1024, description="levels: pad windows with the empty tile to this square side")
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="held out as the test split where a data set has none "
                                 "(text: the last fraction of the characters, the validation split)")
    hold_out_validation: bool = Field(False, description="the train split leaves out the validation split (MNIST: "
                                      "the last 10,000 training digits; text: the last 5% of the training characters; "
                                      "else the data set's own, or the last 10% of train), for pilots scored on it")
    limit: int | None = Field(None, ge=1, description="use only the first N examples (text: windows) of a split; "
                              "shapes: how many scenes (default 20,000 train, 2,000 test)")
    source: Literal["package", "download"] = Field(
        "package", description="mnist, tinyshakespeare: the copy shipped in the package, or a download into cache_dir"
    )
    cache_dir: Path | None = Field(None, description="download and token cache (default $NOISECRAFT_CACHE or ~/.cache/noisecraft)")
    smiles_path: Path | None = Field(None, description="molecules: a .smi file (one SMILES a line) or a .csv")
    smiles_column: str = Field("SMILES", description="molecules: the .csv column that holds the SMILES")
    skip_bad_smiles: bool = Field(False, description="molecules: skip SMILES RDKit cannot read (counted) instead of stopping")
    properties: list[Literal["qed", "logp", "sa", "mw"]] = Field(
        default_factory=list, description="molecules: property tokens that start each molecule (conditioning)")
    sequences: Literal["packed", "padded"] = Field(
        "packed", description="molecules: packed into windows (autoregressive models) or one a row (sequence VAE)")
    music: MusicDataConfig = Field(default_factory=MusicDataConfig, description="music data sets: representation, grid, voices")

    @model_validator(mode="after")
    def _resolve_dataset(self) -> "DataConfig":
        if self.image_folder is not None and self.dataset not in (None, "image_folder"):
            raise ValueError(f"data.image_folder is set, so data.dataset must be image_folder, not {self.dataset!r}")
        if self.text_path is not None and self.dataset not in (None, "text"):
            raise ValueError(f"data.text_path is set, so data.dataset must be text, not {self.dataset!r}")
        if self.dataset == "image_folder" and self.image_folder is None:
            raise ValueError("data.dataset is image_folder but data.image_folder (a folder path) is missing")
        if self.dataset == "text" and self.text_path is None:
            raise ValueError("data.dataset is text but data.text_path (a .txt file or folder) is missing")
        if (self.smiles_path is not None) != (self.dataset == "smiles") and self.dataset is not None:
            raise ValueError("data.smiles_path (a .smi or .csv file) goes with data.dataset smiles, and only with it")
        if self.level_folder is not None and self.dataset not in (None, "level_folder"):
            raise ValueError(f"data.level_folder is set, so data.dataset must be level_folder, not {self.dataset!r}")
        if self.dataset is None:
            dataset = ("image_folder" if self.image_folder is not None else "text" if self.text_path is not None
                       else "level_folder" if self.level_folder is not None
                       else "smiles" if self.smiles_path is not None else "mnist")
            object.__setattr__(self, "dataset", dataset)
        if self.captions and self.dataset != "image_folder":
            raise ValueError(f"data.captions reads an image folder's captions; data.dataset {self.dataset!r} has none "
                             "of its own (shapes always has captions)")
        molecule_keys = [k for k in MOLECULE_DATA_KEYS if getattr(self, k) != self._default(k)]
        if molecule_keys and self.dataset not in MOLECULE_DATASETS:
            raise ValueError(f"data.{molecule_keys[0]} is for molecule data; data.dataset {self.dataset!r} is not molecules")
        if self.dataset in LEVEL_DATASETS:
            return self._check_level_keys()
        level_keys = [k for k in LEVEL_DATA_KEYS if getattr(self, k) != type(self).model_fields[k].default]
        if level_keys:
            raise ValueError(f"data.{level_keys[0]} is for game levels; data.dataset {self.dataset!r} is not levels")
        if self.dataset in MOLECULE_DATASETS:
            return self._check_molecule_keys()
        if self.dataset in MUSIC_DATASETS:
            if self.dataset == "music_folder" and self.music.folder is None:
                raise ValueError("data.dataset is music_folder but data.music.folder (a folder path) is missing")
            return self
        text = self.dataset in TEXT_DATASETS
        # set to something other than the default (a run's config.yaml lists every key, defaults included)
        wrong = [k for k in (IMAGE_DATA_KEYS if text else TEXT_DATA_KEYS)
                 if getattr(self, k) != type(self).model_fields[k].default]
        if wrong:
            kind = "image" if text else "text"
            raise ValueError(f"data.{wrong[0]} is for {kind} data; data.dataset {self.dataset!r} is "
                             f"{'text' if text else 'images'}")
        return self

    def _default(self, key: str) -> Any:
        field = type(self).model_fields[key]
        return field.default_factory() if field.default_factory is not None else field.default

    def _check_molecule_keys(self) -> "DataConfig":
        wrong = [k for k in IMAGE_DATA_KEYS + ("text_path", "vocab_size", "stride") if getattr(self, k) != self._default(k)]
        if wrong:
            raise ValueError(f"data.{wrong[0]} is not for molecules; data.dataset {self.dataset!r} is molecules")
        if self.tokenizer == "char":  # the default: molecules are cut into SMILES tokens
            object.__setattr__(self, "tokenizer", "smiles")
        if self.tokenizer not in ("smiles", "selfies"):
            raise ValueError(f"data.tokenizer {self.tokenizer!r} is for text; molecules take smiles or selfies")
        return self

    def _check_level_keys(self) -> "DataConfig":
        if self.dataset == "level_folder" and (self.level_folder is None or self.game is None):
            raise ValueError("data.dataset is level_folder: set data.level_folder (a folder of level .txt files) "
                             "and data.game (smb or zelda: whose tiles)")
        if self.dataset != "level_folder" and self.game not in (None, self.dataset):
            raise ValueError(f"data.game {self.game!r}: data.dataset {self.dataset!r} is that game's corpus")
        allowed = ("stride", "block_size") if self.encoding in TOKEN_LEVEL_ENCODINGS else ("stride",)
        wrong = [k for k in (*IMAGE_DATA_KEYS, *TEXT_DATA_KEYS)
                 if k not in allowed and getattr(self, k) != type(self).model_fields[k].default]
        if self.encoding in TOKEN_LEVEL_ENCODINGS and self.pad_to is not None:
            wrong.insert(0, "pad_to")
        if wrong:
            raise ValueError(f"data.{wrong[0]} does not apply to game levels with data.encoding {self.encoding}")
        return self

    @property
    def modality(self) -> str:
        if self.dataset in LEVEL_DATASETS:
            return "tokens" if self.encoding in TOKEN_LEVEL_ENCODINGS else "image"
        music_tokens = self.dataset in MUSIC_DATASETS and self.music.representation == "tokens"
        return "tokens" if self.dataset in TEXT_DATASETS + MOLECULE_DATASETS or music_tokens else "image"


class TrainConfig(StrictModel):
    """The training loop's settings; the same keys for every family."""

    seed: int = 0
    max_steps: int = Field(2000, ge=1)
    max_seconds: float | None = Field(None, gt=0, description="also stop after this much training time (wall-clock budgets)")
    batch_size: int = Field(128, ge=1, description="per process")
    lr: float = Field(1e-3, gt=0)
    lr_by_optimizer: dict[str, float] = Field(
        default_factory=dict, description="learning rate per optimizer of a family with several (GAN: generator, discriminator)"
    )
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    grad_clip: float | None = Field(1.0, gt=0, description="max gradient norm; null disables clipping")
    ema_decay: float | None = Field(0.995, ge=0, lt=1, description="EMA of weights used for sampling; null disables")
    ema_start: int = Field(100, ge=0, description="steps before the EMA starts averaging")
    precision: Literal["32", "bf16-mixed", "auto"] = Field(
        "32", description="auto: bf16 autocast where the hardware runs bf16 natively (AMX, AVX512-BF16, bf16 GPUs), else 32")
    channels_last: bool = Field(
        False, description="keep convolution weights and activations in channels-last (NHWC) memory layout: faster "
        "convolutions on CPUs (oneDNN) and tensor-core GPUs; no effect on a model without 2-D convolutions")
    checkpoint_every: int = Field(500, ge=1)

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_32(cls, value: Any) -> Any:
        """`--set train.precision=32` arrives as the number 32.0: it means "32"."""
        return "32" if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 32 else value
    sample_every: int = Field(500, ge=1, description="write samples/step-NNNNNN.png every this many steps")
    num_samples: int = Field(64, ge=1, le=1024, description="images in each sample grid")
    log_every: int = Field(25, ge=1)
    num_workers: int = Field(0, ge=0)
    tensorboard: bool = True


class EvaluateConfig(StrictModel):
    """How `noisecraft evaluate` measures the run: the same names as its options."""

    protocol: Literal["headline", "sweep"] = Field("headline", description="headline: 10k samples, Inception "
                                                   "FID/KID/PR; sweep: 2k samples, FID/KID + classifier metrics")
    metrics: str | None = Field(None, description="comma-separated metric names (default: the protocol's)")
    num: int | None = Field(None, ge=2, description="generated samples (default: the protocol's)")
    split: Literal["train", "validation", "test"] = Field("test", description="reference split of the run's data")
    seed: int = Field(0, ge=0, description="sampling seed")
    nll_samples: int = Field(100, ge=1, description="importance samples per example for likelihood bounds")
    nll_num: int | None = Field(None, ge=1, description="likelihood on the first N examples of the split")


class Recipe(StrictModel):
    """A whole recipe. `model` stays a plain dict here; the named family's config class validates it."""

    name: str = "recipe"
    description: str = ""
    data: DataConfig = Field(default_factory=DataConfig)
    model: dict[str, Any]
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)


def builtin_recipes() -> dict[str, Path]:
    return {p.stem: p for p in sorted(RECIPES_DIR.glob("*.yaml"))}


def resolve_recipe_path(recipe: str | Path) -> Path:
    """A YAML path, or the name of a recipe that ships in the package."""
    path = Path(recipe)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"recipe file not found: {path}")
        return path
    recipes = builtin_recipes()
    if str(recipe) not in recipes:
        raise ConfigError(f"unknown recipe {str(recipe)!r}: not a file, and not a built-in recipe ({', '.join(recipes)})")
    return recipes[str(recipe)]


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections (data, model, train), got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`--set train.lr=3e-4 model.latent_dim=32`: values are parsed as YAML (numbers, booleans, lists, null)."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. train.lr=3e-4")
        parts = key.strip().split(".")
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[: i + 1])} is a value, not a section")
            node = child
        node[parts[-1]] = _parse_value(value)
    return raw


BUILTIN_IMAGE_SIDES = {"mnist": 28, "digits": 8}  # what a recipe written for them sizes its model for


def switch_to_own_data(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`--set data.image_folder=~/pics` (or `data.text_path=...`) on a recipe written for a built-in data set
    trains on that data instead: the override says which data set, so the recipe's `data.dataset` gives way
    (unless `data.dataset` is set too), and images come at the size the recipe's model was built for
    (unless `data.image_size` is set)."""
    keys = {item.partition("=")[0].strip() for item in overrides}
    data = raw.get("data")
    if "data.dataset" in keys or not isinstance(data, dict):
        return raw
    if "data.image_folder" in keys and data.get("dataset") not in (None, "image_folder"):
        builtin = data.pop("dataset")
        if "data.image_size" not in keys and builtin in BUILTIN_IMAGE_SIDES:
            data["image_size"] = data.get("image_size") or BUILTIN_IMAGE_SIDES[builtin]
    if "data.text_path" in keys and data.get("dataset") not in (None, "text"):
        data.pop("dataset")
    return raw


def _parse_value(text: str) -> Any:
    """YAML, except that `3e-4` is a number (YAML 1.1 wants `3.0e-4`)."""
    try:
        value = yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def validate_section(cls: type[BaseModel], raw: Any, source: str, prefix: str = "") -> Any:
    """Validate `raw` into `cls`, turning pydantic's errors into a ConfigError that names key paths."""
    try:
        return cls.model_validate(raw)
    except ValidationError as e:
        errors = e.errors()
        lines = []
        for err in errors:
            loc = [str(p) for p in err["loc"]]
            path = ".".join([p for p in [prefix, *loc] if p])
            if err["type"] == "extra_forbidden":
                owner = _model_at(cls, loc[:-1])
                allowed = ", ".join(owner.model_fields) if owner is not None else ""
                msg = "unknown key" + (f" (allowed: {allowed})" if allowed else "")
            else:
                msg = err["msg"]
                if err["type"] != "missing" and not isinstance(err.get("input"), dict):
                    msg += f" (got {err.get('input')!r})"
            lines.append(f"{source}: {path}: {msg}" if path else f"{source}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def _model_at(cls: type[BaseModel], loc: list[str]) -> type[BaseModel] | None:
    """The config class that owns the key at `loc` (to list its allowed keys)."""
    for part in loc:
        field = cls.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        cls = annotation
    return cls


class ResolvedRecipe(BaseModel):
    """A recipe after defaults, overrides and validation: what a run records in its config.yaml."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    recipe: Recipe
    model: Any  # the family's ModelConfig
    source: str

    def to_dict(self) -> dict[str, Any]:
        out = self.recipe.model_dump(mode="json")
        out["model"] = self.model.model_dump(mode="json")
        return out


def parse_recipe(recipe: str | Path | dict[str, Any], overrides: list[str] | None = None) -> tuple[Recipe, dict[str, Any], str]:
    """Read (a path, a built-in name or a dict), apply `--set` overrides, validate every section but the
    family's own: (recipe, raw model section, source). `noisecraft.models.registry.load_recipe` finishes the
    job with the family's config class, so this module never imports the families."""
    if isinstance(recipe, dict):
        raw, source = copy.deepcopy(recipe), "recipe"
    else:
        path = resolve_recipe_path(recipe)
        raw, source = read_yaml(path), str(path)
    raw = switch_to_own_data(apply_overrides(raw, overrides or []), overrides or [])
    if not isinstance(raw.get("model"), dict) or "family" not in raw["model"]:
        raise ConfigError(f"{source}: model.family: missing (which family to train, e.g. vae)")
    return validate_section(Recipe, raw, source), raw["model"], source


def __getattr__(name: str) -> Any:
    """`noisecraft.config.load_recipe` moved to `noisecraft.models.registry` (which knows the families);
    the old name works, with a DeprecationWarning, until the next release."""
    if name == "load_recipe":
        import importlib
        import warnings

        warnings.warn("noisecraft.config.load_recipe is deprecated: use noisecraft.models.registry.load_recipe",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module("noisecraft.models.registry").load_recipe
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
