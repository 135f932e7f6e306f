#!/usr/bin/env bash
# The GPU check of issue #10: every figure of this machine's device into
# benchmarks/results/gpu/<device-name>.{md,json} (see benchmarks/gpu_check.py for the sections).
#
#   SEMGAME_DATA=/path/to/data bash benchmarks/gpu_check.sh          # one GPU: finishes within 8 minutes
#   bash benchmarks/gpu_check.sh --device cpu --tiny                 # CI-sized dry run on the CPU
#
# PYTHON picks the interpreter (default: python); GPU_CHECK_TIMEOUT (seconds, default 470) stops it
# in time: the JSON/MD are rewritten after every section, so a stopped run keeps what it measured.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout --signal=INT "${GPU_CHECK_TIMEOUT:-470}" "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
