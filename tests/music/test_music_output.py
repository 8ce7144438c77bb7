"""What a musician opens: a WAV that sounds for the music's length, and a piano roll with voice colours."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from PIL import Image

from noisecraft.data.music import Music
from noisecraft.data.music_output import SAMPLE_RATE, TAIL_SECONDS, duration_seconds, save_roll_png, write_wav


@pytest.mark.parametrize("engine", ["soundfont", "sine"])
def test_wav_is_non_silent_with_the_right_length(chorale, tmp_path, engine):
    path = tmp_path / "c.wav"
    assert write_wav(chorale, path, engine=engine) == engine
    with wave.open(str(path)) as f:
        assert f.getframerate() == SAMPLE_RATE and f.getnchannels() == 1
        audio = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float64) / 32767
    assert len(audio) == round((duration_seconds(chorale) + TAIL_SECONDS) * SAMPLE_RATE)
    seconds = len(audio) // SAMPLE_RATE
    loudness = [np.sqrt(np.mean(audio[i * SAMPLE_RATE : (i + 1) * SAMPLE_RATE] ** 2)) for i in range(seconds - 1)]
    assert min(loudness) > 0.01  # every second of the music sounds


def test_rests_are_silent(tmp_path):
    music = Music.from_frames([[60], [], [], [], [], [], [], []], 1, meta={"tempo": 60.0})
    path = tmp_path / "r.wav"
    write_wav(music, path, engine="sine")
    with wave.open(str(path)) as f:
        audio = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float64)
    assert np.abs(audio[: SAMPLE_RATE // 2]).mean() > 100 and np.abs(audio[3 * SAMPLE_RATE :]).max() == 0


def test_piano_roll_png_colours_each_voice(chorale, tmp_path):
    image = np.asarray(Image.open(save_roll_png(chorale, tmp_path / "c.png")).convert("RGB"))
    colours = {"soprano": (214, 39, 40), "bass": (148, 103, 189)}
    for name, rgb in colours.items():
        close = (np.abs(image.astype(int) - rgb).sum(-1) < 60).sum()
        assert close > 200, name
