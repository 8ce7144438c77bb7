#!/usr/bin/env bash
# The benchmark venv for pythae: .venv-pythae (see setup_peer_venv.sh).
set -euo pipefail
exec bash "$(dirname "$0")/setup_peer_venv.sh" .venv-pythae "pythae==0.1.2"
