#!/usr/bin/env bash
# The GPU check of issue #10: every figure of this machine's device into
# benchmarks/results/gpu/<device-name>.{md,json} (see benchmarks/gpu_check.py for the sections).
#
#   SEMGAME_DATA=/path/to/data bash benchmarks/gpu_check.sh          # one GPU: finishes within 8 minutes
#   bash benchmarks/gpu_check.sh --device cpu --tiny                 # CI-sized dry run on the CPU
#
# PYTHON picks the interpreter (default: the repo's .venv/bin/python where it runs, else python3, e.g. a
# GPU machine's own torch: a virtual environment copied from another machine can point at an interpreter
# that is not there); GPU_CHECK_TIMEOUT (seconds, default 470) stops it in time: the JSON/MD are rewritten
# after every measurement, so a stopped run keeps what it measured.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [[ -z "${PYTHON:-}" ]]; then
  PYTHON=python3
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; fi
fi
exec timeout --signal=INT "${GPU_CHECK_TIMEOUT:-470}" "$PYTHON" benchmarks/gpu_check.py "$@"
