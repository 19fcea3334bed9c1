#!/usr/bin/env bash
# Installs Debian's nginx for the remote-memory tests (tests/test_remote_http.py).
# Python's http.server ignores Range requests, so the tests serve memories with a real nginx that
# they start themselves on 127.0.0.1 with a generated config (tests/nginx_server.py); the package's
# own service is never started or enabled.
# Idempotent: does nothing when /usr/sbin/nginx already exists.
set -euo pipefail

if [ -x /usr/sbin/nginx ]; then
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v apt-get >/dev/null 2>&1; then
  echo ">> apt-get not found: install nginx at /usr/sbin/nginx yourself to run the remote-memory tests" >&2
  exit 0
fi

echo ">> installing nginx (for the remote-memory HTTP tests)"
# policy-rc.d exit 101 keeps the package's post-install script from starting a system nginx on port 80.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then as_root rm -f "$policy"; fi; }
trap cleanup EXIT
if ! { as_root apt-get update -qq &&
       as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null; }; then
  echo ">> could not install nginx; the remote-memory tests will be skipped" >&2
  exit 0
fi
