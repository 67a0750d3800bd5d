#!/usr/bin/env bash
# Set up (scripts/setup.sh), then lint, type-check and run the whole test suite: what CI runs.
#   scripts/test.sh                          everything
#   scripts/test.sh tests/unit -q            setup, checks, then only these tests
#   scripts/test.sh --quick tests/unit -q    only these tests: no setup, no lint (the inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--quick" ]; then
  shift
  [ -x .venv/bin/pytest ] || { echo "error: no .venv yet: run scripts/test.sh once (it sets up)" >&2; exit 2; }
  exec .venv/bin/pytest "$@"
fi
bash scripts/setup.sh
.venv/bin/ruff check s3rb_stream tests bench
.venv/bin/ruff format --check s3rb_stream tests bench
.venv/bin/mypy s3rb_stream tests
.venv/bin/hadolint Dockerfile
.venv/bin/yamllint --strict deploy conf .hadolint.yaml .yamllint
.venv/bin/python scripts/check_links.py
.venv/bin/pytest "$@"
