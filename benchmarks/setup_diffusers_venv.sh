#!/usr/bin/env bash
# The benchmark venv for peers: noisecraft beside Hugging Face diffusers (not a dependency of noisecraft).
# Creates .venv-diffusers at the repository root (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-diffusers
.venv-diffusers/bin/pip install "torch==2.13.0"
.venv-diffusers/bin/pip install -e . "diffusers==0.42.1"
