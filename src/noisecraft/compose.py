"""Music tasks on any model of music: harmonize a melody, fill chosen voices or bars, continue a piece,
compose from nothing. Roll models (arcnn) fill cells of a piano roll; token models continue event tokens.

Here, and not in the families, is where music meets grids and tokens: a family only ever sees tensors.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch

from noisecraft.data import music_tokens
from noisecraft.data.music import PITCHES, SATB, Music
from noisecraft.errors import ConfigError
from noisecraft.models.base import GenerativeModel


def music_layout(model: GenerativeModel) -> dict[str, Any] | None:
    """How a model's data is music: {"kind": "music-roll" | "music-tokens", voices, steps_per_quarter, ...},
    or None when it is not a model of music."""
    layout = model.spec.layout or {}
    if layout.get("kind") == "music-roll":
        return layout
    meta = (model.spec.tokenizer or {}).get("meta") or {}
    if meta.get("format") == music_tokens.FORMAT:
        return {"kind": "music-tokens", **meta}
    return None


def require_layout(model: GenerativeModel) -> dict[str, Any]:
    layout = music_layout(model)
    if layout is None:
        raise ConfigError(f"this {model.family} model was not trained on music (jsb-chorales, bach-chorales, music_folder)")
    return layout


# --- rolls <-> music ---------------------------------------------------------------------------------
def fit_music(music: Music, layout: dict[str, Any]) -> Music:
    """The music on the model's grid and with its voices (pitch sets split by height, or merged)."""
    music = music.resample(int(layout["steps_per_quarter"]))
    voices = tuple(layout["voices"])
    if len(voices) == 1 and music.voiced:
        music = music.merged()
    elif len(voices) > 1 and (not music.voiced or len(music.voices) != len(voices)):
        music = music.split_voices(voices)
    return replace(music, voices=voices)


def octave_shift(music: Music, low: int, high: int) -> int:
    """Whole octaves that bring the music into low..high (0 when it fits or cannot)."""
    span = music.pitch_range()
    if span is None:
        return 0
    for k in sorted(range(-5, 6), key=abs):
        if low <= span[0] + 12 * k and span[1] + 12 * k <= high:
            return 12 * k
    return 0


def shift_cells(cells: np.ndarray, semitones: int) -> np.ndarray:
    """[..., 128] moved up by `semitones`, nothing wrapping round."""
    out = np.zeros_like(cells)
    if semitones >= 0:
        out[..., semitones:] = cells[..., : PITCHES - semitones]
    else:
        out[..., :semitones] = cells[..., -semitones:]
    return out


def to_grid(music: Music, layout: dict[str, Any], pitches: int) -> torch.Tensor:
    low = int(layout["low"])
    return torch.from_numpy(music.roll[:, :, low : low + pitches].astype(np.float32))


def from_grid(grid: torch.Tensor, layout: dict[str, Any], like: Music | None = None, name: str = "generated") -> Music:
    low = int(layout["low"])
    v_len, t_len, p_len = grid.shape
    roll = np.zeros((v_len, t_len, PITCHES), bool)
    roll[:, :, low : low + p_len] = grid.cpu().numpy() > 0.5
    meta = dict(like.meta) if like is not None else {}
    music = Music(roll, np.zeros_like(roll), int(layout["steps_per_quarter"]), tuple(layout["voices"]), name=name,
                  key=like.key if like is not None else None, meta=meta)
    return music.with_key() if like is None else music


def keep_onsets(music: Music, given: Music, cells: np.ndarray) -> Music:
    """Put back the note starts of the given cells (a roll has none: a repeated melody note stays two)."""
    onsets = music.onsets.copy()
    onsets[cells] = given.onsets[cells]
    return replace(music, onsets=onsets)


# --- roll tasks --------------------------------------------------------------------------------------
@torch.no_grad()
def fill(model: GenerativeModel, music: Music, hidden: np.ndarray, num: int = 1, seed: int = 0,
         **options: Any) -> list[Music]:
    """`num` versions of `music` (already on the model's grid) with the cells in `hidden` [V, T, 128]
    redrawn by the model and every other cell exactly as given."""
    layout = require_layout(model)
    if layout["kind"] != "music-roll":
        raise ConfigError(f"this {model.family} model continues event tokens; filling voices or bars needs a "
                          "roll model (family arcnn)")
    pitches = model.spec.shape[2]
    low = int(layout["low"])
    shift = octave_shift(music, low, low + pitches - 1)
    shifted = music.transpose(shift)
    hidden = shift_cells(hidden, shift)
    x = to_grid(shifted, layout, pitches)[None].repeat(num, 1, 1, 1)
    known = torch.from_numpy(~hidden[:, :, low : low + pitches])[None].repeat(num, 1, 1, 1)
    out = model.inpaint(x, known, torch.Generator().manual_seed(seed), **options)
    pieces = []
    for i, grid in enumerate(out):
        piece = from_grid(grid, layout, shifted, name=f"{music.name}-{i + 1}")
        piece = keep_onsets(piece, shifted, ~hidden & shifted.roll).transpose(-shift)
        pieces.append(piece)
    return pieces


def harmonize(model: GenerativeModel, melody: Music, num: int = 1, seed: int = 0, **options: Any) -> list[Music]:
    """Keep the melody (the top voice of `melody`) note for note as the soprano; fill the other voices.
    On a single piano roll (DeepComposer's), the cells above the melody are kept empty, so it stays on top."""
    layout = require_layout(model)
    tune = melody.resample(int(layout["steps_per_quarter"])).split_voices(("soprano",))
    voices = tuple(layout["voices"])
    hidden = np.zeros((len(voices), tune.steps, PITCHES), bool)
    if len(voices) == 1:
        top = tune.to_voices()[:, 0]
        for t, p in enumerate(top):
            hidden[0, t, :p] = p >= 0  # below the melody: free; above it and at rests: silent
        given = replace(tune, voices=voices)
    else:
        hidden[1:] = True
        roll = np.zeros_like(hidden)
        roll[0] = tune.roll[0]
        onsets = np.zeros_like(hidden)
        onsets[0] = tune.onsets[0]
        given = replace(tune, roll=roll, onsets=onsets, voices=voices)
    pieces = fill(model, given, hidden, num, seed, **options)
    return [as_satb(p, tune) for p in pieces]


def as_satb(piece: Music, tune: Music) -> Music:
    """SATB voices, the soprano exactly the given melody (roll and onsets)."""
    satb = piece if piece.voiced else piece.split_voices(SATB)
    roll, onsets = satb.roll.copy(), satb.onsets.copy()
    roll[0], onsets[0] = tune.roll[0], tune.onsets[0]
    return replace(satb, roll=roll, onsets=onsets, name=piece.name)


def parse_bars(text: str | None, steps: int, steps_per_bar: int) -> tuple[int, int]:
    """"3-4" (bars, from 1, inclusive) -> steps [start, stop)."""
    if not text:
        return 0, steps
    first, _, last = text.partition("-")
    try:
        a, b = int(first), int(last or first)
    except ValueError:
        raise ConfigError(f"--bars {text!r}: give bars as A-B (from 1), e.g. 3-4") from None
    if not 1 <= a <= b:
        raise ConfigError(f"--bars {text!r}: bars count from 1 and A <= B")
    start, stop = (a - 1) * steps_per_bar, min(steps, b * steps_per_bar)
    if start >= steps:
        raise ConfigError(f"--bars {text!r}: the piece has only {-(-steps // steps_per_bar)} bars")
    return start, stop


def inpaint(model: GenerativeModel, music: Music, voices: list[str] | None = None, bars: str | None = None,
            num: int = 1, seed: int = 0, **options: Any) -> list[Music]:
    """Redraw the chosen voices (names or numbers from 1) within the chosen bars ("3-4"); everything
    else stays as it was."""
    layout = require_layout(model)
    music = fit_music(music, layout)
    spq = music.steps_per_quarter
    start, stop = parse_bars(bars, music.steps, 4 * spq)
    chosen = list(range(len(music.voices))) if not voices else [voice_index(v, music.voices) for v in voices]
    hidden = np.zeros_like(music.roll)
    for v in chosen:
        hidden[v, start:stop] = True
    return fill(model, music, hidden, num, seed, **options)


def voice_index(name: str, voices: tuple[str, ...]) -> int:
    name = name.strip().lower()
    if name.isdigit() and 1 <= int(name) <= len(voices):
        return int(name) - 1
    matches = [i for i, v in enumerate(voices) if v.lower() == name or v.lower()[:1] == name]
    if not matches:
        raise ConfigError(f"--voices {name!r}: this model's voices are {', '.join(voices)} (or 1..{len(voices)})")
    return matches[0]


def continue_music(model: GenerativeModel, prompt: Music, bars: int, num: int = 1, seed: int = 0,
                   **options: Any) -> list[Music]:
    """`bars` more bars after `prompt`: token models sample on; roll models fill the new bars."""
    layout = require_layout(model)
    prompt = fit_music(prompt, layout)
    spq = prompt.steps_per_quarter
    new = bars * 4 * spq
    if layout["kind"] == "music-tokens":
        return sample_tokens(model, layout, num, seed, new, prompt, **options)
    longer = prompt.crop(0, prompt.steps + new)
    hidden = np.zeros_like(longer.roll)
    hidden[:, prompt.steps :] = True
    return fill(model, longer, hidden, num, seed, **options)


def compose(model: GenerativeModel, bars: int = 4, num: int = 1, seed: int = 0, **options: Any) -> list[Music]:
    """`num` new pieces of `bars` bars (4/4)."""
    layout = require_layout(model)
    steps = bars * 4 * int(layout["steps_per_quarter"])
    if layout["kind"] == "music-tokens":
        return sample_tokens(model, layout, num, seed, steps, None, **options)
    grids = model.sample(num, generator=torch.Generator().manual_seed(seed), steps=steps, **options)
    return [from_grid(g, layout, name=f"composed-{i + 1}") for i, g in enumerate(grids)]


def sample_tokens(model: GenerativeModel, layout: dict[str, Any], num: int, seed: int, steps: int,
                  prompt: Music | None, **options: Any) -> list[Music]:
    """Token models: sample until `steps` more steps are written (or the piece ends), then decode."""
    from noisecraft.sampling import generate_text

    voices = tuple(layout["voices"])
    per_step = len(voices) + 1 if len(voices) > 1 else 6  # tokens a step takes (pitch sets: about 4 + 1)
    text = " ".join(music_tokens.encode(prompt)) + " " if prompt is not None else None
    options.setdefault("max_tokens", steps * per_step + 8)
    texts = generate_text(model, num, seed=seed, prompt=text, **options)
    spq = int(layout["steps_per_quarter"])
    out = []
    for i, t in enumerate(texts):
        tokens = ((text or music_tokens.START + " ") + t).split()
        music = music_tokens.decode(tokens, voices, spq, name=f"generated-{i + 1}")
        total = (prompt.steps if prompt is not None else 0) + steps
        out.append(music.crop(0, min(total, music.steps)) if music.steps > total else music)
    return out
