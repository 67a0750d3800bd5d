#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the quickstart demo into ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/s3rb-stream demo "$@"
