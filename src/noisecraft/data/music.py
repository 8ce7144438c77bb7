"""Music as notes on a grid: the one representation every music loader produces and every writer reads.

`Music.roll[v, t, p]` says MIDI pitch p sounds in voice v at time step t; `Music.onsets[v, t, p]` says a
note starts there (so two repeated quarter notes stay two notes). Voices are SATB for the chorales
(one note per voice and step), or a single "all" voice holding sets of pitches (the JSB quarter frames).
Steps are `steps_per_quarter` to a quarter note: 1 for the JSB frames, 4 (16th notes) elsewhere.
The key (tonic pitch class, mode) is kept from the score or estimated from the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

SATB = ("soprano", "alto", "tenor", "bass")
PITCHES = 128
LOWEST, HIGHEST = 21, 108  # the 88 piano keys, A0..C8: the range of the published JSB frame NLL
MODES = ("major", "minor")
# Krumhansl-Kessler key profiles (Krumhansl 1990), for estimating a key from a pitch-class histogram
_PROFILES = {
    "major": np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
    "minor": np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor plus the raised 7th (harmonic minor's leading tone)


@dataclass
class Music:
    roll: np.ndarray  # bool [V, T, 128]
    onsets: np.ndarray  # bool [V, T, 128], within roll
    steps_per_quarter: int = 4
    voices: tuple[str, ...] = SATB
    name: str = "music"
    key: tuple[int, str] | None = None  # (tonic pitch class 0-11, "major" | "minor")
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.roll = np.asarray(self.roll, dtype=bool)
        self.onsets = np.asarray(self.onsets, dtype=bool) & self.roll
        if self.roll.ndim != 3 or self.roll.shape[2] != PITCHES or len(self.voices) != self.roll.shape[0]:
            raise ValueError(f"roll must be [voices={len(self.voices)}, T, {PITCHES}], got {self.roll.shape}")

    @property
    def steps(self) -> int:
        return self.roll.shape[1]

    @property
    def voiced(self) -> bool:
        """One note per voice and step (SATB), rather than one voice of pitch sets."""
        return len(self.voices) > 1

    # --- conversions ---------------------------------------------------------------------------------
    @classmethod
    def from_notes(cls, notes: list[tuple[int, int, int, int]], voices: tuple[str, ...], steps_per_quarter: int,
                   steps: int | None = None, **kw) -> "Music":
        """Notes as (voice, pitch, start step, end step), end exclusive."""
        steps = steps if steps is not None else max((n[3] for n in notes), default=0)
        roll = np.zeros((len(voices), steps, PITCHES), bool)
        onsets = np.zeros_like(roll)
        for v, p, a, b in notes:
            if b > a and 0 <= p < PITCHES:
                roll[v, a:b, p] = True
                onsets[v, a, p] = True
        return cls(roll, onsets, steps_per_quarter, tuple(voices), **kw)

    def notes(self) -> list[tuple[int, int, int, int]]:
        """(voice, pitch, start, end) sorted by start: a note runs from an onset (or a step where the pitch
        starts sounding) while the pitch sounds, until the next onset of that pitch."""
        out = []
        for v, t, p in zip(*np.nonzero(self.roll & self.starts())):
            end = t + 1
            while end < self.steps and self.roll[v, end, p] and not self.onsets[v, end, p]:
                end += 1
            out.append((int(v), int(p), int(t), int(end)))
        return sorted(out, key=lambda n: (n[2], n[0], n[1]))

    def starts(self) -> np.ndarray:
        """Where notes start: marked onsets, and pitches that begin sounding without one."""
        before = np.zeros_like(self.roll)
        before[:, 1:] = self.roll[:, :-1]
        return self.onsets | (self.roll & ~before)

    @classmethod
    def from_voices(cls, pitches: np.ndarray, steps_per_quarter: int, voices: tuple[str, ...] = SATB,
                    **kw) -> "Music":
        """[T, V] MIDI pitches, -1 silent (the Coconet format): a pitch that repeats is held."""
        pitches = np.asarray(pitches, dtype=np.int64)
        t_len, v_len = pitches.shape
        roll = np.zeros((v_len, t_len, PITCHES), bool)
        onsets = np.zeros_like(roll)
        t, v = np.nonzero(pitches >= 0)
        roll[v, t, pitches[t, v]] = True
        prev = np.vstack([np.full((1, v_len), -2), pitches[:-1]])
        t, v = np.nonzero((pitches >= 0) & (pitches != prev))
        onsets[v, t, pitches[t, v]] = True
        return cls(roll, onsets, steps_per_quarter, tuple(voices), **kw)

    def to_voices(self) -> np.ndarray:
        """[T, V] the highest pitch of each voice at each step, -1 where it is silent."""
        has = self.roll.any(axis=2)
        top = PITCHES - 1 - np.argmax(self.roll[:, :, ::-1], axis=2)
        return np.where(has, top, -1).T

    @classmethod
    def from_frames(cls, frames: list[list[int]], steps_per_quarter: int = 1, **kw) -> "Music":
        """Sets of sounding pitches per step (the JSB quarter format), as one voice."""
        roll = np.zeros((1, len(frames), PITCHES), bool)
        for t, frame in enumerate(frames):
            roll[0, t, [p for p in frame if 0 <= p < PITCHES]] = True
        return cls(roll, np.zeros_like(roll), steps_per_quarter, ("all",), **kw)

    def frames(self) -> np.ndarray:
        """[T, 128] bool: every pitch sounding at each step, voices merged."""
        return self.roll.any(axis=0)

    def merged(self) -> "Music":
        return replace(self, roll=self.frames()[None], onsets=self.onsets.any(axis=0)[None], voices=("all",))

    def split_voices(self, voices: tuple[str, ...] = SATB) -> "Music":
        """Pitch sets -> voices by height: the highest pitch is the soprano, the lowest the bass (what
        DeepComposer's single piano roll implies); frames with more pitches than voices drop middle ones."""
        out = np.full((self.steps, len(voices)), -1)
        frames = self.frames()
        v_len = len(voices)
        for t in range(self.steps):
            ps = np.nonzero(frames[t])[0][::-1]
            if len(ps) > v_len:
                ps = ps[:1] if v_len == 1 else np.concatenate([ps[: v_len - 1], ps[-1:]])
            if len(ps) == 1 or len(ps) == v_len:
                out[t, : len(ps)] = ps
            elif len(ps):  # fewer pitches than voices: the upper voices from the top, the bass the lowest
                out[t, : len(ps) - 1], out[t, v_len - 1] = ps[:-1], ps[-1]
        music = Music.from_voices(out, self.steps_per_quarter, voices, name=self.name, key=self.key)
        starts = self.starts().any(axis=0)  # keep the onsets the merged roll had
        music.onsets |= music.roll & starts[None]
        return music

    def resample(self, steps_per_quarter: int) -> "Music":
        """Change the grid: finer steps repeat each step, coarser ones keep what sounds on each beat."""
        if steps_per_quarter == self.steps_per_quarter:
            return self
        if steps_per_quarter % self.steps_per_quarter == 0:
            k = steps_per_quarter // self.steps_per_quarter
            roll = np.repeat(self.roll, k, axis=1)
            onsets = np.zeros_like(roll)
            onsets[:, ::k] = self.onsets
            return replace(self, roll=roll, onsets=onsets, steps_per_quarter=steps_per_quarter)
        k = self.steps_per_quarter // steps_per_quarter
        if self.steps_per_quarter % steps_per_quarter:
            raise ValueError(f"cannot resample {self.steps_per_quarter} to {steps_per_quarter} steps per quarter")
        starts = self.starts()
        onsets = np.zeros((len(self.voices), -(-self.steps // k), PITCHES), bool)
        for i in range(k):
            part = starts[:, i::k]
            onsets[:, : part.shape[1]] |= part
        return replace(self, roll=self.roll[:, ::k], onsets=onsets, steps_per_quarter=steps_per_quarter)

    def transpose(self, semitones: int) -> "Music":
        """Shift every pitch; pitches pushed off the 0-127 range are dropped."""
        roll, onsets = np.zeros_like(self.roll), np.zeros_like(self.onsets)
        src = slice(max(0, -semitones), PITCHES - max(0, semitones))
        dst = slice(max(0, semitones), PITCHES - max(0, -semitones))
        roll[:, :, dst], onsets[:, :, dst] = self.roll[:, :, src], self.onsets[:, :, src]
        key = ((self.key[0] + semitones) % 12, self.key[1]) if self.key else None
        return replace(self, roll=roll, onsets=onsets, key=key)

    def crop(self, start: int, stop: int) -> "Music":
        roll = self.roll[:, start:stop]
        pad = max(0, stop - start - roll.shape[1])
        onsets = self.onsets[:, start:stop].copy()
        if start > 0:
            onsets[:, 0] |= roll[:, 0]  # a note cut at the window's edge starts there
        widths = ((0, 0), (0, pad), (0, 0))
        return replace(self, roll=np.pad(roll, widths), onsets=np.pad(onsets, widths))

    def pitch_range(self) -> tuple[int, int] | None:
        ps = np.nonzero(self.roll.any(axis=(0, 1)))[0]
        return (int(ps[0]), int(ps[-1])) if len(ps) else None

    def voice_ranges(self) -> dict[str, tuple[int, int] | None]:
        out = {}
        for v, name in enumerate(self.voices):
            ps = np.nonzero(self.roll[v].any(axis=0))[0]
            out[name] = (int(ps[0]), int(ps[-1])) if len(ps) else None
        return out

    def with_key(self) -> "Music":
        """This music with its key set (estimated from its notes when unknown)."""
        return self if self.key is not None else replace(self, key=estimate_key(self.frames()))


def estimate_key(frames: np.ndarray) -> tuple[int, str] | None:
    """Krumhansl-Schmuckler: the key whose profile correlates best with the duration-weighted pitch-class
    histogram of `frames` [T, 128]."""
    hist = pitch_class_histogram(frames)
    if hist.sum() == 0:
        return None
    best = max(((np.corrcoef(hist, np.roll(_PROFILES[m], tonic))[0, 1], tonic, m)
                for m in MODES for tonic in range(12)))
    return int(best[1]), best[2]


def pitch_class_histogram(frames: np.ndarray) -> np.ndarray:
    """Share of sounding steps per pitch class 0-11 (C = 0)."""
    counts = np.asarray(frames, dtype=np.float64).reshape(-1, PITCHES).sum(axis=0)
    hist = np.array([counts[pc::12].sum() for pc in range(12)])
    return hist / hist.sum() if hist.sum() else hist


def scale_pitch_classes(key: tuple[int, str]) -> set[int]:
    tonic, mode = key
    return {(tonic + d) % 12 for d in (MAJOR_SCALE if mode == "major" else MINOR_SCALE)}


def key_name(key: tuple[int, str] | None) -> str:
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return f"{names[key[0]]} {key[1]}" if key else "unknown"
