"""The verbs on tiny trained runs: generate (harmonize, inpaint, continue, compose) and evaluate."""

from __future__ import annotations

import json
import math

import numpy as np

from noisecraft.cli.main import run
from noisecraft.data.music_files import read_music, write_music
from noisecraft.utils.credentials import verify_png


def test_generate_harmonizes_a_melody_file_note_for_note(coconet_run, chorale, tmp_path):
    melody = chorale.split_voices(("soprano",))
    write_music(melody, tmp_path / "tune.musicxml")
    out = tmp_path / "out" / "chorale.mid"
    assert run(["generate", str(coconet_run), "--melody", str(tmp_path / "tune.musicxml"), "--out", str(out),
                "--passes", "0.2"]) == 0
    for suffix in (".mid", ".musicxml", ".png", ".wav"):
        assert out.with_suffix(suffix).stat().st_size > 100
    roll = verify_png(out.with_suffix(".png").read_bytes())  # a generated image: signed content credentials
    assert roll.status == "verified" and roll.ai_generated, roll.message
    back = read_music(out)
    assert len(back.voices) == 4
    assert (back.roll[0, : melody.steps] == melody.roll[0]).all()
    assert (back.starts()[0, : melody.steps] == melody.starts()[0]).all()


def test_generate_inpaints_only_the_chosen_voice_and_bars(coconet_run, chorale, tmp_path):
    write_music(chorale, tmp_path / "piece.mid")
    out = tmp_path / "filled.mid"
    assert run(["generate", str(coconet_run), "--inpaint", str(tmp_path / "piece.mid"), "--voices", "alto",
                "--bars", "2-3", "--out", str(out), "--formats", "mid", "--seed", "1"]) == 0
    back = read_music(out)
    changed = (back.roll != chorale.crop(0, back.steps).roll).any(axis=2)  # [voice, step]
    assert changed[1, 16:48].any()
    changed[1, 16:48] = False
    assert not changed.any()


def test_generate_composes_and_continues(transformer_run, coconet_run, chorale, tmp_path):
    for path in (coconet_run, transformer_run):
        out = tmp_path / path.parent.name / "new.mid"
        assert run(["generate", str(path), "--bars", "2", "--num", "2", "--out", str(out), "--formats", "mid,png"]) == 0
        assert (out.parent / "new-2.mid").is_file() and (out.parent / "new-1.png").is_file()
    write_music(chorale.crop(0, 16), tmp_path / "start.mid")
    out = tmp_path / "more.mid"
    assert run(["generate", str(coconet_run), "--prompt-file", str(tmp_path / "start.mid"), "--bars", "1",
                "--out", str(out), "--formats", "mid"]) == 0
    back = read_music(out)
    assert back.steps == 32 and (back.roll[:, :16] == chorale.roll[:, :16]).all()


def test_generate_names_a_bad_option(coconet_run, tmp_path, capsys):
    assert run(["generate", str(coconet_run), "--bars", "x", "--out", str(tmp_path / "a.mid")]) == 2
    assert "--bars" in capsys.readouterr().err


def test_evaluate_frame_nll_and_music(frames_run, transformer_run):
    for path in (frames_run, transformer_run):
        assert run(["evaluate", str(path), "--metrics", "nll,music", "--num", "2", "--nll-num", "2", "--quiet"]) == 0
        result = json.loads((path / "metrics.json").read_text())
        nll = result["music"]["nll"]
        assert nll["comparable_to_published"] is True and nll["frames"] > 50
        # an untrained model is far worse than independent notes (~11 nats), but finite and positive
        assert math.isfinite(result["metrics"]["frame_nll_nats"]) and result["metrics"]["frame_nll_nats"] > 5
        assert 9 < nll["independent_notes_baseline"] < 13
        bach = result["music"]["statistics"]["bach"]
        assert 3.5 < bach["polyphony"] <= 4.2 and bach["out_of_key_share"] < 0.1
    assert "harmonization_note_accuracy" in json.loads((frames_run / "metrics.json").read_text())["metrics"]


def test_a_model_without_a_frame_nll_says_why(coconet_run):
    from types import SimpleNamespace

    from noisecraft.evaluate.music import no_frame_likelihood

    assert run(["evaluate", str(coconet_run), "--metrics", "nll", "--nll-num", "2", "--quiet"]) == 0
    result = json.loads((coconet_run / "metrics.json").read_text())
    assert "frame_nll_nats" not in result["metrics"] and result["music"]["nll"]["frame_nll_nats"] is None
    assert "SATB voices" in result["music"]["nll"]["how"] and "flip" not in result["music"]["nll"]["how"]
    assert "flip (DeepComposer)" in no_frame_likelihood(SimpleNamespace(config=SimpleNamespace(objective="flip")))
