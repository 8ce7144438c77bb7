#!/usr/bin/env bash
# The benchmark venv for pythae (not a dependency of noisecraft): noisecraft beside pythae, so one script
# trains both on the same data, interleaved. Creates .venv-pythae at the repository root (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-pythae
.venv-pythae/bin/pip install "torch==2.13.0"
.venv-pythae/bin/pip install -e . "pythae==0.1.2"
