"""What a musician opens: a piano-roll PNG with each voice in its colour, and a WAV rendered offline.

Sound: pretty_midi ships a General MIDI soundfont (TimGM6mb.sf2) and `tinysoundfont` renders it in
memory, without audio hardware; where either is missing, pretty_midi's plain numpy sine synthesizer
renders instead. A WAV lasts the music plus `TAIL_SECONDS` for the last notes to ring out.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from noisecraft.data.music import Music, key_name
from noisecraft.data.music_files import DEFAULT_TEMPO, PROGRAM, midi_object, write_music

SAMPLE_RATE = 22050
TAIL_SECONDS = 1.0
FORMATS = ("mid", "musicxml", "png", "wav")
VOICE_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def duration_seconds(music: Music) -> float:
    return music.steps / music.steps_per_quarter * 60.0 / float(music.meta.get("tempo", DEFAULT_TEMPO))


def soundfont_path() -> Path | None:
    try:
        import pretty_midi
    except ImportError:
        return None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    return path if path.is_file() else None


def render_audio(music: Music, sample_rate: int = SAMPLE_RATE, engine: str = "auto") -> tuple[np.ndarray, str]:
    """Mono float32 samples in [-1, 1] of the music and the engine that made them ("soundfont" or "sine")."""
    total = int(round((duration_seconds(music) + TAIL_SECONDS) * sample_rate))
    audio, used = None, "sine"
    if engine in ("auto", "soundfont") and soundfont_path() is not None:
        try:
            audio, used = _render_soundfont(music, sample_rate, total), "soundfont"
        except ImportError:
            if engine == "soundfont":
                raise
    if audio is None:
        audio = midi_object(music).synthesize(fs=sample_rate).astype(np.float32)
    audio = np.pad(audio[:total], (0, max(0, total - len(audio))))
    peak = float(np.abs(audio).max())
    return (audio / peak * 0.9 if peak > 0 else audio).astype(np.float32), used


def _render_soundfont(music: Music, sample_rate: int, total: int) -> np.ndarray:
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sample_rate, gain=-6)
    sfid = synth.sfload(str(soundfont_path()))
    for channel in range(len(music.voices)):
        synth.program_select(channel, sfid, 0, PROGRAM)
    seconds = 60.0 / float(music.meta.get("tempo", DEFAULT_TEMPO)) / music.steps_per_quarter
    events = []
    for v, p, a, b in music.notes():
        events += [(b * seconds, 0, v, p), (a * seconds, 1, v, p)]  # at equal times, offs before ons
    events.sort()
    chunks, done = [], 0
    for time, on, v, p in events + [(total / sample_rate, -1, 0, 0)]:
        frames = int(round(time * sample_rate)) - done
        if frames > 0:
            chunks.append(np.frombuffer(synth.generate(frames), dtype=np.float32).reshape(-1, 2).mean(axis=1))
            done += frames
        if on == 1:
            synth.noteon(v % 16, p, 80)
        elif on == 0:
            synth.noteoff(v % 16, p)
    return np.concatenate(chunks) if chunks else np.zeros(total, np.float32)


def write_wav(music: Music, path: str | Path, sample_rate: int = SAMPLE_RATE, engine: str = "auto") -> str:
    """16-bit mono WAV; returns the engine used."""
    audio, used = render_audio(music, sample_rate, engine)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes((audio * 32767).astype("<i2").tobytes())
    return used


def save_roll_png(music: Music, path: str | Path, title: str | None = None, fixed: np.ndarray | None = None,
                  claims: dict[str, Any] | None = None) -> Path:
    """Time across, pitch up, one colour per voice; note starts marked; cells in `fixed` [V, T, 128]
    (a given melody) drawn darker. Given `claims` (what generated the music), the PNG carries signed content
    credentials, as every generated image does."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    span = music.pitch_range() or (60, 72)
    width = min(24, 3 + music.steps / music.steps_per_quarter * 0.18)
    fig, ax = plt.subplots(figsize=(width, 4.4), dpi=100)
    for v, p, a, b in music.notes():
        colour = VOICE_COLOURS[v % len(VOICE_COLOURS)]
        given = fixed is not None and fixed[v, a, p]
        ax.add_patch(Rectangle((a / music.steps_per_quarter, p - 0.45), (b - a) / music.steps_per_quarter, 0.9,
                               facecolor=colour, edgecolor="black" if given else colour, linewidth=1.2 if given else 0.3,
                               alpha=1.0))
    ax.set_xlim(0, max(1, music.steps / music.steps_per_quarter))
    ax.set_ylim(span[0] - 2, span[1] + 2)
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    for q in range(0, music.steps // music.steps_per_quarter + 1, 4):
        ax.axvline(q, color="#bbbbbb", linewidth=0.5, zorder=0)
    ax.legend(handles=[Patch(color=VOICE_COLOURS[i % len(VOICE_COLOURS)], label=n) for i, n in enumerate(music.voices)],
              loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=len(music.voices), frameon=False)
    ax.set_title(title or f"{music.name} ({key_name(music.key)})", fontsize=10, loc="left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if claims is None:
        fig.savefig(path)
    else:
        from noisecraft.utils.images import encode_png

        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        path.write_bytes(encode_png(pixels, claims=claims, title=path.name))
    plt.close(fig)
    return path


def write_music_files(music: Music, stem: Path, formats: tuple[str, ...] | list[str] = FORMATS,
                      claims: dict[str, Any] | None = None) -> list[Path]:
    """STEM.mid, STEM.musicxml, STEM.png, STEM.wav (those in `formats`), side by side; the PNG signed with
    `claims` when given."""
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        if fmt in ("mid", "musicxml"):
            write_music(music, path)
        elif fmt == "png":
            save_roll_png(music, path, claims=claims)
        else:
            write_wav(music, path)
        paths.append(path)
    return paths
