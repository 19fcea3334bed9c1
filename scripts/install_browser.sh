#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the web UI test (tests/test_web_ui.py).
# Playwright cannot download its own browser here, so the test drives /usr/bin/chromium instead.
# Idempotent: does nothing when /usr/bin/chromium already exists.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v apt-get >/dev/null 2>&1; then
  echo ">> apt-get not found: install Chromium at /usr/bin/chromium yourself to run the browser test" >&2
  exit 0
fi

echo ">> installing chromium (for the web UI browser test)"
if ! { as_root apt-get update -qq &&
       as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
  echo ">> could not install chromium; the browser test will be skipped" >&2
  exit 0
fi
