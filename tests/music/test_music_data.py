"""Music data: the split is the shared files', every conversion keeps pitches and onsets, bad files are
named."""

from __future__ import annotations

import numpy as np
import pytest

from noisecraft.data import music_tokens
from noisecraft.data.music import SATB, Music
from noisecraft.data.music_data import load_jsb, parse_bach_chorale
from noisecraft.data.music_files import read_folder, read_music, write_music
from noisecraft.errors import DataError

from .conftest import jsb_json


def same_notes(a: Music, b: Music) -> bool:
    """Same pitches sounding at the same steps in the same voices, and the same note starts."""
    t = max(a.steps, b.steps)
    a, b = a.crop(0, t), b.crop(0, t)
    return bool((a.roll == b.roll).all() and (a.starts() == b.starts()).all())


def test_split_equals_the_shared_files():
    quarter, voices = jsb_json("jsb-chorales-quarter.json"), jsb_json("Jsb16thSeparated.json")
    for split, count in (("train", 229), ("valid", 76), ("test", 77)):
        frames = load_jsb(split, "quarter")
        assert len(frames) == len(quarter[split]) == count
        for music, raw in zip(frames, quarter[split]):
            assert [sorted(np.nonzero(f)[0].tolist()) for f in music.frames()] == [sorted(f) for f in raw]
    satb = load_jsb("test", "16th")
    assert len(satb) == 77 and satb[5].voices == SATB
    for music, raw in zip(satb, voices["test"]):
        assert (music.to_voices() == np.asarray(raw)).all()


@pytest.mark.parametrize("suffix", [".mid", ".musicxml"])
def test_file_round_trip_keeps_pitches_and_onsets(chorale, tmp_path, suffix):
    path = write_music(chorale, tmp_path / f"c{suffix}")
    back = read_music(path)
    assert back.voices == SATB and same_notes(back, chorale)
    assert back.key == chorale.key or suffix == ".musicxml"  # MIDI stores the key signature


def test_music21_chorale_round_trips_and_matches_its_jsb_item(tmp_path):
    music = parse_bach_chorale("bach/bwv172.6.mxl")  # music21-match.json: JSB test item 0, score 0.965
    assert music.voices == SATB and music.meta["fermatas"]
    assert same_notes(read_music(write_music(music, tmp_path / "b.mid")), music)
    jsb = Music.from_voices(np.asarray(jsb_json("Jsb16thSeparated.json")["test"][0]), 4)
    a, b = music.resample(1).frames(), jsb.resample(1).frames()
    t = min(len(a), len(b))
    assert (a[:t] == b[:t]).all(axis=1).mean() > 0.9


def test_tokens_round_trip(chorale):
    back = music_tokens.decode(music_tokens.encode(chorale), SATB, 4)
    assert same_notes(back, chorale)
    frames = Music.from_frames([[60, 64, 67], [], [59, 62, 67, 74]], 1)
    tokens = music_tokens.encode(frames)
    assert tokens == ["<s>", "p60", "p64", "p67", "|", "|", "p59", "p62", "p67", "p74", "|"]
    assert (music_tokens.decode(tokens, ("all",), 1).frames() == frames.frames()).all()


def test_transpose_moves_pitches_and_key(chorale):
    up = chorale.transpose(3)
    assert (up.to_voices()[chorale.to_voices() >= 0] == chorale.to_voices()[chorale.to_voices() >= 0] + 3).all()
    assert up.key == ((chorale.key[0] + 3) % 12, chorale.key[1])


def test_roll_dataset_windows_and_augmentation():
    from noisecraft.config import DataConfig
    from noisecraft.data import build_dataset

    cfg = DataConfig(dataset="jsb-chorales", limit=2, music={"window": 16, "transpose": 5, "low": 36, "high": 83})
    data = build_dataset(cfg, "train")
    assert data.spec.shape == (4, 16, 48) and data.spec.layout["voices"] == list(SATB)
    x = data[0]["x"]
    assert x.shape == (4, 16, 48) and set(x.unique().tolist()) <= {0.0, 1.0}
    assert (x.sum(-1) <= 1).all()  # one note per voice and step


def test_corrupt_midi_is_one_error_line_naming_it(tmp_path, capsys):
    from noisecraft.cli.main import run

    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / "bad.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(DataError, match="bad.mid"):
        read_music(folder / "bad.mid")
    code = run(["train", "jsb-arcnn", "--set", "data.dataset=music_folder", "--set", f"data.music.folder={folder}",
                "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and "bad.mid" in err[0]


def test_skip_bad_files_counts_them(tmp_path, chorale):
    write_music(chorale, tmp_path / "good.mid")
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        pieces = read_folder(tmp_path, skip_bad_files=True)
    assert len(pieces) == 1
