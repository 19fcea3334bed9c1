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
  .venv/bin/python -m pip install -q --upgrade pip
  # Pinned first: an unpinned torch would pull several GB of CUDA wheels.
  .venv/bin/python -m pip install -q torch==2.13.0
  # constraints.txt pins the versions CI tests; memvid-rag[test] is every extra plus the test tools, and the
  # [torch] extra (sentence-transformers, which the tests compare the onnxruntime model with) needs the torch above.
  # uv installs the other ~220 packages in about 15 s where pip takes 80 s (it downloads in parallel);
  # pip stays the fallback. uv keeps the torch above: constraints.txt pins the same version. Files are copied,
  # not hard-linked from uv's cache: nltk (under llama-index) refuses to open a file with several links.
  if ! { .venv/bin/python -m pip install -q "uv==0.13.9" \
         && UV_LINK_MODE=copy .venv/bin/uv pip install -q --python .venv/bin/python -c constraints.txt -e ".[test]"; }; then
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
