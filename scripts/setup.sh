#!/usr/bin/env bash
# Installs what s3rb_stream needs on a fresh Debian/Ubuntu machine: MariaDB and PostgreSQL binaries
# (the demo and the tests start their own throwaway servers), the MariaDB client library headers,
# Python 3.11+ with venv, then the project in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have mariadbd || missing+=(mariadb-server)
have mariadb-install-db || missing+=(mariadb-server)
have mariadb || missing+=(mariadb-client)
# The fault suite mounts a small tmpfs in a private namespace for its full-disk trial.
have unshare || missing+=(util-linux)
have mount || missing+=(mount)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || have initdb || missing+=(postgresql)
# mysqlclient (the C client used for snapshots and syncs) builds against the MariaDB client library.
{ pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; } \
  || missing+=(libmariadb-dev pkg-config gcc)
# The compiled speed-ups (s3rb_stream/_speedups.pyx) are built by pip with gcc.
have gcc || missing+=(gcc)
python_ok() { python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
python_ok || missing+=(python3 python3-venv python3-pip python3-dev)
python_ok && ! python3 -c 'import os, sysconfig; os.stat(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null \
  && missing+=(python3-dev)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
python_ok || { echo "error: Python 3.11 or newer is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# Pinned: constraints.txt holds the exact versions (the Dockerfile installs with it too). The
# compiled speed-ups must build here (setup.py): a failed compile fails the install.
S3RB_REQUIRE_SPEEDUPS=1 .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
if ! .venv/bin/python -I -c 'import s3rb_stream._speedups' 2>/dev/null; then
  echo "error: the compiled speed-ups (s3rb_stream._speedups) do not import after the install;" \
    "run: S3RB_REQUIRE_SPEEDUPS=1 .venv/bin/python -m pip install -v --no-deps -e . to see the compiler's error" >&2
  exit 1
fi
echo "ready: .venv/bin/s3rb-stream"
