#!/usr/bin/env bash
# A benchmark venv for one peer: noisecraft beside the peer's package (never a dependency of noisecraft), so one
# script runs both on the same data. Usage: setup_peer_venv.sh VENV PACKAGE==VERSION (VENV at the repository
# root, gitignored). PyTorch is chosen as install.sh chooses it (a local wheel, else the CPU index on a Linux
# machine without an NVIDIA GPU: a plain `pip install torch` there pulls a multi-GB CUDA build);
# TORCH_INDEX_URL=... picks another index.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$1"
PEER="$2"
TORCH="torch==2.13.0"
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
$PIP install -e . "$PEER"
"$VENV/bin/python" -c "import ${PEER%%==*}, noisecraft, torch; print('$PEER beside noisecraft, torch', torch.__version__)"
