#!/usr/bin/env bash
# Set up (scripts/setup.sh), then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check s3rb_stream tests bench
.venv/bin/ruff format --check s3rb_stream tests bench
.venv/bin/mypy s3rb_stream tests
.venv/bin/hadolint Dockerfile
.venv/bin/yamllint --strict deploy conf .hadolint.yaml .yamllint
.venv/bin/python scripts/check_links.py
.venv/bin/pytest "$@"
