#!/usr/bin/env bash
# A benchmark venv for one peer: noisecraft beside the peer's package (never a dependency of noisecraft), so one
# script runs both on the same data. Usage: setup_peer_venv.sh VENV PACKAGE==VERSION (VENV at the repository
# root, gitignored). PyTorch comes from `install.sh --torch-only` (the CPU build on a GPU-less Linux machine;
# TORCH_INDEX_URL=... picks another index).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$1"
PEER="$2"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
VIRTUAL_ENV="$PWD/$VENV" ./install.sh --torch-only  # PyTorch chosen in one place
"$VENV/bin/python" -m pip install -e . "$PEER"
"$VENV/bin/python" -c "import ${PEER%%==*}, noisecraft, torch; print('$PEER beside noisecraft, torch', torch.__version__)"
