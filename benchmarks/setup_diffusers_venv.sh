#!/usr/bin/env bash
# The benchmark venv for Hugging Face diffusers: .venv-diffusers (see setup_peer_venv.sh).
set -euo pipefail
exec bash "$(dirname "$0")/setup_peer_venv.sh" .venv-diffusers "diffusers==0.42.1"
