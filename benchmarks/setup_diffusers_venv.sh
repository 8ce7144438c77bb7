#!/usr/bin/env bash
# The benchmark venv for peers: noisecraft beside Hugging Face diffusers (not a dependency of noisecraft).
# Creates .venv-diffusers at the repository root (gitignored). PyTorch is chosen as install.sh chooses it
# (a local wheel, else the CPU index on a Linux machine without an NVIDIA GPU: a plain `pip install torch`
# there pulls a multi-GB CUDA build); TORCH_INDEX_URL=... picks another index.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH="torch==2.13.0"
VENV=.venv-diffusers
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    $PIP install "$TORCH" --index-url "$TORCH_INDEX_URL"
elif $PIP install --dry-run --no-index --no-deps -q "$TORCH" >/dev/null 2>&1; then
    $PIP install "$TORCH"
elif [ "$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null; then
    $PIP install "$TORCH" --index-url https://download.pytorch.org/whl/cpu
else
    $PIP install "$TORCH"
fi
$PIP install -e . "diffusers==0.42.1"
"$VENV/bin/python" -c "import diffusers, noisecraft, torch; print('diffusers', diffusers.__version__, 'torch', torch.__version__)"
