"""Music as event tokens, so that a token model (which knows nothing of music) can learn it.

A piece is `<s>`, then one group of tokens per time step, each group closed by `|`:
- pitch sets (one "all" voice, the JSB frames): the sounding pitches in ascending order, `p60 p64 p67 |`.
  The set -> tokens map is one-to-one, so a token model's probability of these tokens IS its probability
  of the 88-key binary frame: the frame NLL of the published JSB tables, exactly;
- voices (SATB): one token per voice, highest voice first: `p60` a note starts, `h` the voice's note goes
  on, `r` the voice is silent (`p67 h r p48 |`): pitches and onsets round-trip.
The vocabulary is fixed (the 88 piano keys), so every model of music tokens shares it.
"""

from __future__ import annotations

import numpy as np

from noisecraft.data.music import HIGHEST, LOWEST, PITCHES, SATB, Music

START, STEP, HOLD, REST = "<s>", "|", "h", "r"
VOCABULARY = [START, STEP, HOLD, REST] + [f"p{p}" for p in range(LOWEST, HIGHEST + 1)]
FORMAT = "music-events-v1"


def encode(music: Music) -> list[str]:
    """`<s>` + one group per step; pitches outside the 88 keys are dropped."""
    tokens = [START]
    if not music.voiced:
        for frame in music.frames():
            tokens += [f"p{p}" for p in np.nonzero(frame)[0] if LOWEST <= p <= HIGHEST] + [STEP]
        return tokens
    pitches, starts = music.to_voices(), music.starts()
    for t in range(music.steps):
        for v in range(len(music.voices)):
            p = pitches[t, v]
            if p < 0 or not LOWEST <= p <= HIGHEST:
                tokens.append(REST)
            else:
                tokens.append(f"p{p}" if starts[v, t, p] else HOLD)
        tokens.append(STEP)
    return tokens


def decode(tokens: list[str], voices: tuple[str, ...] = SATB, steps_per_quarter: int = 4,
           name: str = "generated") -> Music:
    """Tokens back to music, forgiving what a sampled stream may hold: text before the first `<s>` and
    after a second one is ignored, a missing or surplus voice token is a rest or dropped, `h` after a
    rest is a rest."""
    if START in tokens:
        tokens = tokens[tokens.index(START) + 1 :]
    if START in tokens:
        tokens = tokens[: tokens.index(START)]
    groups, group = [], []
    for tok in tokens:
        if tok == STEP:
            groups.append(group)
            group = []
        else:
            group.append(tok)
    if len(voices) == 1:
        frames = [[int(t[1:]) for t in g if t.startswith("p") and t[1:].isdigit()] for g in groups]
        return Music.from_frames(frames, steps_per_quarter, name=name).with_key()
    roll = np.zeros((len(voices), len(groups), PITCHES), bool)
    onsets = np.zeros_like(roll)
    previous = [-1] * len(voices)
    for t, g in enumerate(groups):
        for v in range(len(voices)):
            tok = g[v] if v < len(g) else REST
            if tok.startswith("p") and tok[1:].isdigit():
                previous[v] = int(tok[1:])
                onsets[v, t, previous[v]] = True
            elif tok != HOLD:
                previous[v] = -1
            if previous[v] >= 0:
                roll[v, t, previous[v]] = True
    return Music(roll, onsets, steps_per_quarter, tuple(voices), name=name).with_key()
