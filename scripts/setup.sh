#!/usr/bin/env bash
# Sets up a fresh machine: system libraries, a virtualenv in .venv, the package with its test extras.
# Safe to run again: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# zbar (for the qrcode/pyzbar backend) is a system library.
if ! ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0'; then
  echo ">> installing libzbar0"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzbar0 >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.memvid-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo ">> installing torch (CPU build) and memvid-rag[test]"
  # uv installs the ~220 packages in well under a minute where pip takes 100 s (it downloads and
  # compiles in parallel); pip is the fallback. Files are copied, not hard-linked from uv's cache:
  # nltk (under llama-index) refuses to open a file with several links.
  export UV_LINK_MODE=copy
  uv_ok=1
  .venv/bin/python -m pip install -q "uv==0.13.9" || uv_ok=0
  uv_install() { .venv/bin/uv pip install -q --python .venv/bin/python "$@"; }

  # torch first, pinned: an unpinned torch pulls several GB of CUDA wheels. Where pip is configured
  # with a folder of local wheels holding the CPU build (this machine's /opt/wheels), uv installs that
  # file; anywhere else pip resolves torch==2.13.0 as it always has.
  links=$(.venv/bin/python -m pip config get global.find-links 2>/dev/null || true)
  wheel=$(ls "${links:-/nonexistent}"/torch-2.13.0*.whl 2>/dev/null | head -n 1 || true)
  if ! { [ "$uv_ok" = 1 ] && [ -n "$wheel" ] && uv_install "$wheel"; }; then
    .venv/bin/python -m pip install -q torch==2.13.0
  fi
  # constraints.txt pins the versions CI tests (torch==2.13.0 among them, so the torch above stays);
  # memvid-rag[test] is every extra plus the test tools, the [torch] extra included: the tests compare
  # the onnxruntime model with sentence-transformers.
  # Bytecode is not compiled at install: the tests import 7,800 of the 22,600 files installed, and
  # Python writes bytecode for those on first import (scripts/test.sh makes sure it may). Compiling
  # everything here took 30-55 s; the first imports cost the suite far less (see docs/design.md, "Tests").
  if ! { [ "$uv_ok" = 1 ] && uv_install -c constraints.txt -e ".[test]"; }; then
    echo ">> uv failed; installing with pip"
    .venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
  fi
  touch "$stamp"
fi

# Headless Chromium for the web UI test (browsers cannot be downloaded here; Debian's package can).
bash scripts/install_browser.sh
# Debian's nginx serves a memory over HTTP range requests in tests/test_remote_http.py.
bash scripts/install_nginx.sh
echo ">> setup done: activate with 'source .venv/bin/activate'"
