#!/usr/bin/env bash
# Runs lint, types and the whole test suite (setting the machine up first if needed). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
# The first process to import a module writes its bytecode for the rest (setup.sh compiles none): with
# PYTHONDONTWRITEBYTECODE set, every test process would compile torch, gradio, ... again (11 s -> 22 s each).
unset PYTHONDONTWRITEBYTECODE
echo ">> ruff check ."
.venv/bin/ruff check .
# mypy runs beside pytest (one core for half a minute while the suite starts); its verdict is read at the end.
echo ">> mypy memvid_base memvid_langchain memvid_llamaindex (beside pytest)"
mypy_log=$(mktemp)
.venv/bin/python -m mypy memvid_base memvid_langchain memvid_llamaindex >"$mypy_log" 2>&1 &
mypy_pid=$!
# Two workers (the machine has two cores); a module's tests stay together so its fixtures are built once.
status=0
.venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@" || status=$?
echo ">> mypy"
mypy_status=0
wait "$mypy_pid" || mypy_status=$?
cat "$mypy_log"
rm -f "$mypy_log"
if [ "$status" = 0 ] && [ "$mypy_status" != 0 ]; then status=$mypy_status; fi
exit "$status"
