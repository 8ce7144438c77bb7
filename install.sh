#!/usr/bin/env bash
# One-step setup on Linux or macOS, Python 3.11-3.13: a virtual environment (the active one, else .venv
# here: Debian/Ubuntu's system Python refuses pip outside one, PEP 668), the pinned PyTorch (the CPU build on
# a Linux machine without an NVIDIA GPU: a plain `pip install torch` there pulls a multi-GB CUDA build),
# then noisecraft with its dev extras, editable. Afterwards: `source .venv/bin/activate` puts `noisecraft`
# on PATH. TORCH_INDEX_URL=... chooses another PyTorch index (e.g. a CUDA one).
set -euo pipefail
cd "$(dirname "$0")"
TORCH="torch==2.13.0"
CPU_INDEX="https://download.pytorch.org/whl/cpu"

supported() { "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; }

if [ -n "${VIRTUAL_ENV:-}" ]; then
    PY="$VIRTUAL_ENV/bin/python"
    echo "install.sh: using the active virtual environment $VIRTUAL_ENV"
else
    if [ ! -x .venv/bin/python ]; then
        BASE=""
        for candidate in python3 python3.13 python3.12 python3.11; do
            if command -v "$candidate" >/dev/null && supported "$candidate"; then BASE="$candidate"; break; fi
        done
        if [ -z "$BASE" ]; then
            echo "install.sh: error: noisecraft needs Python 3.11, 3.12 or 3.13 (python3 is $(python3 --version 2>&1 || echo missing))" >&2
            exit 2
        fi
        # Debian/Ubuntu: `sudo apt install python3-venv` if this fails
        "$BASE" -m venv .venv
    fi
    PY="$PWD/.venv/bin/python"
    echo "install.sh: installing into $PWD/.venv (run 'source .venv/bin/activate' to put noisecraft on PATH)"
fi
if ! supported "$PY"; then
    echo "install.sh: error: noisecraft needs Python 3.11, 3.12 or 3.13; $PY is $("$PY" --version 2>&1)" >&2
    exit 2
fi

# PyTorch: pip's own sources when they hold the pinned build (a local wheel), else the CPU index on a Linux
# machine without an NVIDIA GPU, else PyPI (macOS wheels are CPU/MPS builds; Linux ones are CUDA builds).
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$PY" -m pip install "$TORCH" --index-url "$TORCH_INDEX_URL"
elif "$PY" -m pip install --dry-run --no-index --no-deps -q "$TORCH" >/dev/null 2>&1; then
    "$PY" -m pip install "$TORCH"
elif [ "$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null; then
    "$PY" -m pip install "$TORCH" --index-url "$CPU_INDEX"
else
    "$PY" -m pip install "$TORCH"
fi
[ "${1:-}" = --torch-only ] && exit 0  # the peers' benchmark venvs (benchmarks/setup_peer_venv.sh) stop here
"$PY" -m pip install -e ".[dev,music,molecules]"
# offline WAV rendering for music; --no-deps: it declares pyaudio (live playback only, needs PortAudio headers)
"$PY" -m pip install --no-deps "tinysoundfont>=0.3"
# MOSES's data set, reference statistics and baselines; --no-deps: it pins pomegranate<0.12 (which needs
# an old Cython build) for its HMM baseline alone, and its other needs come with the molecules extra
"$PY" -m pip install --no-deps "molsets==0.3.1"
