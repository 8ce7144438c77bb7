"""`noisecraft evaluate RUN --metrics nll,music` for models of music.

nll: frame-level negative log-likelihood, nats per time step, every step of every test piece weighted
equally (the measure of Boulanger-Lewandowski et al. 2012, Table 1, on the JSB quarter-note frames as
88-key binary vectors). How each model gives one:
- token models on pitch-set events: exactly. A frame is its ascending pitches then a step token, a
  one-to-one code, so log p(frame | past) is the sum of its tokens' log-probabilities (the piece's `<s>`
  is given, as the published models are given the start; the end of the piece is not scored).
  Context: windows of block_size tokens, each token predicted with at least half a window before it.
- orderless roll models (arcnn, objective orderless, pitch sets): a chain rule in one fixed order (time,
  then a step's cells in `model.nll_blocks` blocks). Any order of an orderless NADE is a normalised
  distribution, so this is an exact likelihood of that order, not a pseudo-likelihood; it is comparable
  to the published figures (with blocks = 88 it is NADE's own order; fewer blocks model some notes of a
  step as independent given the rest, which can only make it worse). Its context is its window.
- flip models (DeepComposer's objective) score changes, not notes: no likelihood (reported as such).
The figure is comparable to the published table only on jsb-chorales at quarter resolution with all 88
keys (roll models: data.music.low 21, high 108); `comparable_to_published` says whether it is.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from noisecraft.data import music_tokens
from noisecraft.data.music import HIGHEST, LOWEST, Music
from noisecraft.data.music_data import load_music
from noisecraft.errors import ConfigError
from noisecraft.evaluate import music_stats as S

MUSIC_METRICS = {"nll": "frame NLL, nats per time step of the test split", "music": "harmonization accuracy and music statistics vs Bach's"}
# Frame NLL on the JSB chorales' test split (quarter notes, 88 keys), nats per time step: the figures of
# Boulanger-Lewandowski, Bengio & Vincent, "Modeling temporal dependencies in high-dimensional sequences",
# ICML 2012, Table 1 (log-likelihoods there, negated here), and Coconet's (Huang et al., "Counterpoint by
# convolution", ISMIR 2017, Table 1: its own orderless-NADE measure on the same data).
PUBLISHED_FRAME_NLL = {
    "RNN-NADE (Boulanger-Lewandowski et al. 2012, Table 1)": 5.56,
    "RNN-NADE, Hessian-free (Boulanger-Lewandowski et al. 2012, Table 1)": 5.19,
    "RNN-RBM (Boulanger-Lewandowski et al. 2012, Table 1)": 7.27,
    "NADE (Boulanger-Lewandowski et al. 2012, Table 1)": 7.19,
    "RBM (Boulanger-Lewandowski et al. 2012, Table 1)": 7.43,
    "RNN (Boulanger-Lewandowski et al. 2012, Table 1)": 8.71,
    "Coconet (Huang et al. 2017, Table 1)": 5.03,
}
PUBLISHED_NOTE = ("transcribed, not verified against the PDFs: the offline library held no copy of either table "
                  "(5.19, 8.71 and 5.03 as benchmark aggregators list them for these papers); check before quoting")
HARMONY_BARS = 8


def evaluate_music(model, data, metrics: str | None, *, split: str = "test", num: int | None = None, seed: int = 0,
                   nll_num: int | None = None, progress: bool = True, sample_options: dict | None = None) -> dict[str, Any]:
    """The `metrics` of a model of music on its data's `split`: {"metrics": {...}, "music": details}."""
    from noisecraft.compose import require_layout

    layout = require_layout(model)
    chosen = [m.strip() for m in (metrics or "nll,music").split(",") if m.strip()]
    bad = [m for m in chosen if m not in MUSIC_METRICS]
    if bad or not chosen:
        raise ConfigError(f"--metrics {bad[0] if bad else metrics!r}: for models of music choose from: {', '.join(MUSIC_METRICS)}")
    pieces = load_music(data, split)
    started = time.perf_counter()
    out: dict[str, Any] = {"metrics": {}, "music": {}}
    if "nll" in chosen:
        report = frame_nll(model, layout, pieces[:nll_num] if nll_num else pieces, data, progress)
        out["music"]["nll"] = report
        if report.get("frame_nll_nats") is not None:
            out["metrics"]["frame_nll_nats"] = report["frame_nll_nats"]
    if "music" in chosen:
        report = music_report(model, layout, pieces, num or 16, seed, progress, sample_options or {})
        out["music"]["statistics"] = report
        if report["harmonization"]["note_accuracy"] is not None:
            out["metrics"]["harmonization_note_accuracy"] = report["harmonization"]["note_accuracy"]
        for k in ("parallel_fifths_per_transition", "parallel_octaves_per_transition", "out_of_key_share"):
            if k in report["harmonization"]["model"]:
                out["metrics"][f"harmonization_{k}"] = report["harmonization"]["model"][k]
                out["metrics"][f"bach_{k}"] = report["bach"][k]
    out["timing"] = {"total_seconds": time.perf_counter() - started}
    return out


# --- likelihood --------------------------------------------------------------------------------------
def frame_nll(model, layout: dict, pieces: list[Music], data, progress: bool) -> dict[str, Any]:
    frames = sum(m.steps for m in pieces)
    comparable = data.dataset == "jsb-chorales" and data.music.resolution == "quarter"
    info: dict[str, Any] = {"pieces": len(pieces), "frames": frames, "published": PUBLISHED_FRAME_NLL,
                            "published_note": PUBLISHED_NOTE,
                            "independent_notes_baseline": independent_baseline(data, pieces)}
    if layout["kind"] == "music-tokens":
        if len(layout["voices"]) != 1:
            return {**info, "frame_nll_nats": None, "how": "voice tokens (SATB, onsets) describe more than the "
                    "binary frame: their likelihood is not a frame NLL; train on voices: merged"}
        total = sum(token_nll(model, m) for m in tqdm(pieces, disable=not progress, desc="frame NLL"))
        how = "exact: sum of the event tokens' log-probabilities of each frame (one-to-one code)"
    else:
        if not model.has_likelihood:
            return {**info, "frame_nll_nats": None, "how": no_frame_likelihood(model)}
        low, pitches = int(layout["low"]), model.spec.shape[2]
        comparable = comparable and low <= LOWEST and low + pitches - 1 >= HIGHEST
        total = 0.0
        for m in tqdm(pieces, disable=not progress, desc="frame NLL"):
            span = m.pitch_range()
            if span and (span[0] < low or span[1] >= low + pitches):
                raise ConfigError(f"{m.name}: pitches {span} outside the model's {low}..{low + pitches - 1}")
            grid = torch.from_numpy(m.frames()[None, None, :, low : low + pitches].astype(np.float32))
            total -= float(model.log_likelihood(grid).sum())
        how = (f"exact chain rule of the orderless model in a fixed order: time, then {model.config.nll_blocks} "
               "interleaved blocks of a step's cells")
    nll = total / max(frames, 1)
    return {**info, "frame_nll_nats": nll, "how": how, "comparable_to_published": comparable}


def no_frame_likelihood(model) -> str:
    """Why a roll model has no frame NLL: what it models instead, and which model has one."""
    if model.config.objective == "flip":
        return ("not defined: a flip (DeepComposer) model scores which cell to change, not the notes; "
                "train objective orderless on merged voices for a likelihood")
    return ("not defined: an orderless model of SATB voices (a softmax per voice over pitch and rest) describes "
            "who sings each note, more than the 88-key binary frame; train on voices: merged (jsb-frames) for one")


@torch.no_grad()
def token_nll(model, music: Music) -> float:
    """-log p(all of the piece's tokens after `<s>`), nats, with sliding windows of the model's block size."""
    ids = model.tokenizer.encode(" ".join(music_tokens.encode(music)))
    block = model.spec.shape[0]
    total, done = 0.0, 1  # tokens [1, done) are scored
    while done < len(ids):
        stop = min(len(ids), done + max(1, block // 2))
        start = max(0, stop - block - 1)
        x = torch.tensor([ids[start:stop]], device=model.device)
        logp = model.token_log_probs(x)[0]  # for ids[start + 1 : stop]
        total -= float(logp[-(stop - done) :].double().sum())
        done = stop
    return total


def independent_baseline(data, test: list[Music]) -> float:
    """Frame NLL of independent notes: each key a Bernoulli with its train-split frequency (add-one)."""
    train = load_music(data, "train")
    frames = np.concatenate([m.frames() for m in train])
    p = (frames.sum(0) + 1) / (len(frames) + 2)
    x = np.concatenate([m.frames() for m in test])[:, LOWEST : HIGHEST + 1]
    p = p[LOWEST : HIGHEST + 1]
    return float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1).mean())


# --- samples -----------------------------------------------------------------------------------------
def music_report(model, layout: dict, pieces: list[Music], num: int, seed: int, progress: bool,
                 options: dict) -> dict[str, Any]:
    """Harmonize the first `num` test melodies (their first 8 bars) and compose `num` pieces of 8 bars;
    statistics of both beside the same statistics of Bach's test pieces."""
    from noisecraft.compose import compose, harmonize

    options = {k: v for k, v in options.items() if v is not None}
    steps = HARMONY_BARS * 4 * int(layout["steps_per_quarter"])
    bach = [m.crop(0, min(m.steps, steps)) for m in pieces]
    ranges = S.voice_ranges(pieces)
    out: dict[str, Any] = {"bach": S.music_statistics(bach, ranges), "voice_ranges": ranges}
    if layout["kind"] == "music-roll":
        chosen = bach[:num]
        harmonized = [harmonize(model, m, 1, seed + i, **options)[0]
                      for i, m in enumerate(tqdm(chosen, disable=not progress, desc="harmonizing"))]
        out["harmonization"] = {"pieces": len(chosen), "bars": HARMONY_BARS,
                                "note_accuracy": S.note_accuracy(harmonized, chosen),
                                "model": S.music_statistics(harmonized, ranges),
                                "pitch_class_distance": S.histogram_distance(harmonized, bach)}
    else:
        out["harmonization"] = {"note_accuracy": None, "model": {}, "why": "a token model continues music; "
                                "it cannot fix a melody it has not reached"}
    composed = compose(model, HARMONY_BARS, num, seed, **options)
    out["composition"] = {"pieces": len(composed), "bars": HARMONY_BARS, "model": S.music_statistics(composed, ranges),
                          "pitch_class_distance": S.histogram_distance(composed, bach)}
    return out
