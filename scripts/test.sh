#!/usr/bin/env bash
# Runs lint, types and the whole test suite (setting the machine up first if needed). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
echo ">> ruff check ."
.venv/bin/ruff check .
echo ">> mypy memvid_base memvid_langchain memvid_llamaindex"
.venv/bin/python -m mypy memvid_base memvid_langchain memvid_llamaindex
# Two workers (the machine has two cores); a module's tests stay together so its fixtures are built once.
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
