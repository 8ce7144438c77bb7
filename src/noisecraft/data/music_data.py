"""Music data sets: the JSB chorales (the field's split), Bach's chorales from music21's corpus, any
folder of MIDI / MusicXML; served as piano-roll windows (for roll models) or event tokens (token models).

- `jsb-chorales`: ../shared/datasets/jsb-chorales (`noisecraft.utils.paths.shared_dataset`): at
  `resolution: quarter` the published frames (pitch sets, `jsb-chorales-quarter.json`), at `16th` the
  SATB voices (`Jsb16thSeparated.json`); train / valid / test as published (229 / 76 / 77).
- `bach-chorales`: music21's bundled MusicXML (durations, ties, fermatas), split as the JSB items that
  `music21-match.json` matches (score >= its threshold), transposed as matched; parsed once, then cached.
- `music_folder`: your files; `data.test_fraction` held out by the fixed-seed permutation.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from noisecraft.data.base import DataSpec
from noisecraft.data.music import SATB, Music
from noisecraft.data.transforms import holdout_indices
from noisecraft.errors import DataError
from noisecraft.utils.paths import default_cache_dir, shared_dataset

if TYPE_CHECKING:
    from noisecraft.config import DataConfig
    from noisecraft.text.tokenizers import Tokenizer

SPLITS = ("train", "valid", "test")
BACH_CACHE_VERSION = 1


def check_music_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} for music data (train, valid = validation, test)")


def jsb_file(resolution: str) -> Path:
    name = "jsb-chorales-quarter.json" if resolution == "quarter" else "Jsb16thSeparated.json"
    path = shared_dataset("jsb-chorales") / name
    if not path.is_file():
        raise DataError(f"{path}: missing (see SOURCE.md beside it)")
    return path


@lru_cache(maxsize=4)
def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read JSON: {e}") from None


def load_jsb(split: str, resolution: str = "16th") -> list[Music]:
    """The JSB chorales of `split`: quarter-note pitch sets, or 16th-note SATB voices (-1 = silent)."""
    check_music_split(split)
    items = _read_json(jsb_file(resolution))[split]
    if resolution == "quarter":
        return [Music.from_frames(frames, 1, name=f"jsb-{split}-{i}").with_key() for i, frames in enumerate(items)]
    return [Music.from_voices(np.asarray(v), 4, SATB, name=f"jsb-{split}-{i}").with_key() for i, v in enumerate(items)]


def load_bach_chorales(split: str, cache_dir: Path | None = None) -> list[Music]:
    """music21's Bach chorales that match the JSB `split`, at 16th notes, SATB; cached after one parse."""
    check_music_split(split)
    match = _read_json(shared_dataset("jsb-chorales") / "music21-match.json")
    from importlib.metadata import version

    name = f"bach-chorales-v{BACH_CACHE_VERSION}-music21-{version('music21')}-{split}.json"  # a new corpus, a new cache
    cache = Path(cache_dir or default_cache_dir()).expanduser() / "music" / name
    if cache.is_file():
        return [_music_from_record(r) for r in json.loads(cache.read_text())]
    records = []
    for item in match["splits"][split]:
        if item.get("music21_file") is None or item["score"] < match["threshold_used"]:
            continue
        music = parse_bach_chorale(item["music21_file"], item["repeats_expanded"]).transpose(item["transpose_semitones"])
        records.append(_record(music, item))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(records))
    tmp.replace(cache)
    return [_music_from_record(r) for r in records]


def parse_bach_chorale(corpus_path: str, expand_repeats: bool = False) -> Music:
    """One chorale of music21's corpus as SATB Music (instrumental parts beside the voices are left out)."""
    import music21

    from noisecraft.data.music_files import music_from_score

    score = music21.corpus.parse(corpus_path)
    if expand_repeats:
        score = score.expandRepeats()
    parts = [p for p in score.parts if (p.partName or "").strip().lower().split(" ")[0] in SATB]
    if len(parts) != 4:
        parts = list(score.parts)[-4:]
    music = music_from_score(music21.stream.Score(parts), 4, name=Path(corpus_path).stem, source=corpus_path)
    return Music(music.roll, music.onsets, 4, SATB, music.name, music.key, music.meta)


def _record(music: Music, item: dict) -> dict:
    return {"name": music.name, "index": item["index"], "steps": music.steps, "notes": music.notes(),
            "key": music.key, "meta": music.meta}


def _music_from_record(r: dict) -> Music:
    key = tuple(r["key"]) if r["key"] else None
    meta = {**r["meta"], "jsb_index": r["index"]}
    return Music.from_notes([tuple(n) for n in r["notes"]], SATB, 4, r["steps"], name=r["name"], key=key, meta=meta)


def load_music(cfg: "DataConfig", split: str) -> list[Music]:
    """The pieces of `split` of the music data a recipe names, on its grid and with its voices."""
    music_cfg = cfg.music
    spq = 1 if music_cfg.resolution == "quarter" else 4
    if split == "validation" and cfg.dataset in ("jsb-chorales", "bach-chorales"):
        split = "valid"  # the chorales' own validation split (already out of train)
    if cfg.dataset == "jsb-chorales":
        pieces = load_jsb(split, music_cfg.resolution)
    elif cfg.dataset == "bach-chorales":
        pieces = [m.resample(spq) for m in load_bach_chorales(split, cfg.cache_dir)]
    else:
        from noisecraft.data.music_files import read_folder

        if split == "valid":
            raise DataError("a music folder has train and test splits only (data.test_fraction)")
        pieces = read_folder(music_cfg.folder, spq, music_cfg.skip_bad_files)
        pieces = [pieces[i] for i in holdout_indices(len(pieces), split, cfg.test_fraction, f"music folder {music_cfg.folder}",
                                                     cfg.hold_out_validation)]
    if music_cfg.voices == "merged":
        pieces = [m.merged() for m in pieces]
    else:  # your files may hold a single part or other voices: SATB by height
        pieces = [m if m.voices == SATB else m.split_voices(SATB) for m in pieces]
    if cfg.limit is not None:
        pieces = pieces[: cfg.limit]
    return pieces


class RollDataset(Dataset):
    """Windows of `window` steps, `stride` apart, of each piece's roll cut to pitches low..high:
    {"x": float [voices, window, pitches]}; with `transpose`, each window is shifted by a random
    -N..N semitones (kept only if it stays in range)."""

    def __init__(self, pieces: list[Music], window: int, low: int, high: int, stride: int | None = None,
                 transpose: int = 0, name: str = "music") -> None:
        if not pieces:
            raise DataError(f"{name}: no pieces")
        self.pieces, self.window, self.low, self.high = pieces, window, low, high
        self.transpose, self.name = transpose, name
        stride = stride or max(1, window // 2)
        self.index = [(i, s) for i, m in enumerate(pieces) for s in range(0, max(1, m.steps - window // 2), stride)]
        first = pieces[0]
        outside = [m.name for m in pieces if (r := m.pitch_range()) and (r[0] < low or r[1] > high)]
        if outside:
            raise DataError(f"{name}: {outside[0]} has pitches outside data.music.low..high = {low}..{high}")
        self.voices, self.steps_per_quarter = first.voices, first.steps_per_quarter

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        i, start = self.index[index]
        roll = self.pieces[i].roll[:, start : start + self.window, self.low : self.high + 1]
        x = torch.zeros(len(self.voices), self.window, self.high - self.low + 1)
        x[:, : roll.shape[1]] = torch.from_numpy(roll.astype(np.float32))
        if self.transpose:
            shift = int(torch.randint(-self.transpose, self.transpose + 1, ()))
            used = torch.nonzero(x.amax(dim=(0, 1)))
            if len(used) and 0 <= used.min() + shift and used.max() + shift < x.shape[2]:
                x = torch.roll(x, shift, dims=2)
        return {"x": x}

    @property
    def spec(self) -> DataSpec:
        return DataSpec(modality="image", shape=(len(self.voices), self.window, self.high - self.low + 1),
                        layout=roll_layout(self.voices, self.steps_per_quarter, self.low))


def roll_layout(voices: tuple[str, ...], steps_per_quarter: int, low: int) -> dict:
    """What the axes of a roll mean: channels = voices, rows = steps, columns = pitches from `low`."""
    return {"kind": "music-roll", "voices": list(voices), "steps_per_quarter": steps_per_quarter, "low": low,
            "one_note_per_voice": len(voices) > 1}


def music_token_dataset(cfg: "DataConfig", split: str, tokenizer: "Tokenizer | None" = None):
    """All pieces of `split` as one stream of event tokens (`<s>` starts each), served as windows of
    `data.block_size + 1`; the training split also holds each piece transposed by -N..N semitones."""
    from noisecraft.data import music_tokens
    from noisecraft.data.text import TokenDataset
    from noisecraft.text.tokenizers import WordTokenizer

    pieces = load_music(cfg, split)
    meta = {"format": music_tokens.FORMAT, "voices": list(pieces[0].voices),
            "steps_per_quarter": pieces[0].steps_per_quarter}
    tokenizer = tokenizer or WordTokenizer(music_tokens.VOCABULARY, meta)
    shifts = range(-cfg.music.transpose, cfg.music.transpose + 1) if split == "train" else [0]
    ids = []
    for music in pieces:
        for k in shifts:
            ids.extend(tokenizer.encode(" ".join(music_tokens.encode(music.transpose(k)))))
    dataset = TokenDataset(np.asarray(ids, dtype=np.int64), cfg.block_size, tokenizer, stride=cfg.stride,
                           name=str(cfg.dataset), split=split)
    return dataset  # data.limit counted pieces already


def build_music_dataset(cfg: "DataConfig", split: str, tokenizer: "Tokenizer | None" = None):
    if cfg.music.representation == "tokens":
        return music_token_dataset(cfg, split, tokenizer)
    m = cfg.music
    return RollDataset(load_music(cfg, split), m.window, m.low, m.high, m.stride,
                       m.transpose if split == "train" else 0, name=str(cfg.dataset))
