"""Music statistics that say how Bach-like notes are, the same functions for samples and for Bach's own
test split (so every rate is printed beside Bach's): pitch classes, polyphony, note density, voice
ranges and crossings, parallel fifths and octaves, out-of-key notes. Voices are SATB; a single piano
roll is split by height first (so it never crosses)."""

from __future__ import annotations

import numpy as np

from noisecraft.data.music import SATB, Music, pitch_class_histogram, scale_pitch_classes


def as_voices(music: Music) -> Music:
    return music if music.voiced else music.split_voices(SATB)


def parallels(pitches: np.ndarray) -> tuple[int, int, int]:
    """(parallel fifths, parallel octaves/unisons, transitions) of [T, V] pitches: a transition is a step
    where any voice moves; a parallel is two voices that both move, the same way, from a perfect fifth
    (octave) to a perfect fifth (octave) - compound intervals included."""
    fifths = octaves = transitions = 0
    for t in range(1, len(pitches)):
        a, b = pitches[t - 1], pitches[t]
        if (a == b).all() or (a < 0).any() or (b < 0).any():
            transitions += int(not (a == b).all())
            continue
        transitions += 1
        for i in range(len(a)):
            for j in range(i + 1, len(a)):
                moved_i, moved_j = b[i] - a[i], b[j] - a[j]
                if moved_i == 0 or moved_j == 0 or np.sign(moved_i) != np.sign(moved_j):
                    continue
                before, after = abs(a[i] - a[j]) % 12, abs(b[i] - b[j]) % 12
                fifths += int(before == 7 and after == 7)
                octaves += int(before == 0 and after == 0)
    return fifths, octaves, transitions


def music_statistics(pieces: list[Music], ranges: dict[str, tuple[int, int]] | None = None) -> dict[str, float]:
    """Rates over all `pieces` (steps, notes and transitions pooled)."""
    pieces = [as_voices(m.with_key()) for m in pieces if m.steps]
    if not pieces:
        return {}
    frames = np.concatenate([m.frames() for m in pieces])
    sounding = frames.sum(axis=1)
    notes = [m.notes() for m in pieces]
    quarters = sum(m.steps / m.steps_per_quarter for m in pieces)
    fifths = octaves = transitions = crossings = voice_steps = out_of_key = note_count = outside = 0
    for m, ns in zip(pieces, notes):
        pitches = m.to_voices()
        f, o, t = parallels(pitches)
        fifths, octaves, transitions = fifths + f, octaves + o, transitions + t
        both = (pitches[:, :-1] >= 0) & (pitches[:, 1:] >= 0)
        crossings += int(((pitches[:, 1:] > pitches[:, :-1]) & both).any(axis=1).sum())
        voice_steps += int(both.any(axis=1).sum())
        scale = scale_pitch_classes(m.key) if m.key else set(range(12))
        out_of_key += sum(p % 12 not in scale for _, p, _, _ in ns)
        note_count += len(ns)
        if ranges:
            outside += sum(not (ranges[m.voices[v]][0] <= p <= ranges[m.voices[v]][1]) for v, p, _, _ in ns
                           if m.voices[v] in ranges)
    stats = {
        "polyphony": float(sounding[sounding > 0].mean()) if (sounding > 0).any() else 0.0,
        "notes_per_quarter": note_count / max(quarters, 1e-9),
        "parallel_fifths_per_transition": fifths / max(transitions, 1),
        "parallel_octaves_per_transition": octaves / max(transitions, 1),
        "voice_crossings_per_step": crossings / max(voice_steps, 1),
        "out_of_key_share": out_of_key / max(note_count, 1),
        "silent_share": float((sounding == 0).mean()),
    }
    if ranges:
        stats["outside_voice_range_share"] = outside / max(note_count, 1)
    return stats


def voice_ranges(pieces: list[Music], quantile: float = 0.01) -> dict[str, tuple[int, int]]:
    """Each voice's range in `pieces`, its extreme 1% of notes left out."""
    by_voice: dict[str, list[int]] = {}
    for m in pieces:
        m = as_voices(m)
        for v, p, _, _ in m.notes():
            by_voice.setdefault(m.voices[v], []).append(p)
    return {v: (int(np.quantile(ps, quantile)), int(np.quantile(ps, 1 - quantile))) for v, ps in by_voice.items()}


def histogram_distance(samples: list[Music], reference: list[Music]) -> float:
    """Total variation distance (0 = the same, 1 = disjoint) of the pitch-class histograms."""
    if not any(m.steps for m in samples):
        return 1.0
    a = pitch_class_histogram(np.concatenate([m.frames() for m in samples]))
    b = pitch_class_histogram(np.concatenate([m.frames() for m in reference]))
    return float(0.5 * np.abs(a - b).sum())


def note_accuracy(generated: list[Music], truth: list[Music], voices: tuple[int, ...] = (1, 2, 3)) -> float:
    """Share of (voice, step) cells of the filled `voices` where the pitch (or silence) is Bach's."""
    hits = total = 0
    for g, b in zip(generated, truth):
        gp, bp = as_voices(g).to_voices(), as_voices(b).to_voices()
        t = min(len(gp), len(bp))
        hits += int((gp[:t, list(voices)] == bp[:t, list(voices)]).sum())
        total += t * len(voices)
    return hits / max(total, 1)
