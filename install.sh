#!/usr/bin/env bash
# One-step setup on a fresh CPU machine: the pinned CPU build of PyTorch first (a plain `pip install torch`
# would pull a multi-GB CUDA build), then noisecraft with its dev extras, editable.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install "torch==2.13.0"
python3 -m pip install -e ".[dev,music,molecules]"
# offline WAV rendering for music; --no-deps: it declares pyaudio (live playback only, needs PortAudio headers)
python3 -m pip install --no-deps "tinysoundfont>=0.3"
# MOSES's data set, reference statistics and baselines; --no-deps: it pins pomegranate<0.12 (which needs
# an old Cython build) for its HMM baseline alone, and its other needs come with the molecules extra
python3 -m pip install --no-deps "molsets==0.3.1"
