#!/usr/bin/env bash
# The GPU machine's side of benchmarks/gpu_prepare.sh: stage the parts each `run` call carries, then
# run the GPU check on them.
#
#   bash benchmarks/gpu_device.sh stage    # install carried wheels, keep carried data parts
#   bash benchmarks/gpu_device.sh check    # stage, join and verify the data, run gpu_check.sh --out "$OUT"
#   bash benchmarks/gpu_device.sh check --sections cifar80   # (gpu_prepare.sh prints the calls to make)
#
# Parts come from $GPU_PARTS (default .gpu: whl/ and d1/, d2/, ... as gpu_prepare.sh writes them); they
# are kept in $GPU_STAGE (default /tmp/semgame-data) and the wheels installed into $GPU_SITE (default
# /tmp/site), which last as long as the machine stays warm between calls. `check` joins
# cifar10/train.npz once all its parts are there and checks every file against d1/SHA256SUMS; a file
# that is missing or fails its check is left out, and gpu_check.py skips the sections that need it
# (saying so in its report). Extra arguments of `check` go to gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
parts="${GPU_PARTS:-.gpu}"
stage="${GPU_STAGE:-/tmp/semgame-data}"
site="${GPU_SITE:-/tmp/site}"
step="${1:-}"
[[ "$step" == stage || "$step" == check ]] || { echo "usage: gpu_device.sh stage|check [gpu_check args]" >&2; exit 2; }
shift

mkdir -p "$stage"
if compgen -G "$parts/whl/*.whl" > /dev/null && ! [[ -f "$site/.semgame-wheels" ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$parts"/whl/*.whl
  ls "$parts"/whl > "$site/.semgame-wheels"  # (a folder kept from an earlier call is not installed again)
  echo "gpu_device: wheels installed into $site"
fi
for d in "$parts"/d*/; do
  [[ -d "$d" ]] || continue
  cp -r "$d". "$stage"/
  echo "gpu_device: staged $d"
done
[[ "$step" == check ]] || exit 0

shopt -s nullglob
pieces=("$stage"/cifar10/train.npz.part-*)
if ((${#pieces[@]})); then
  cat "${pieces[@]}" > "$stage/cifar10/train.npz.joined"
  mv "$stage/cifar10/train.npz.joined" "$stage/cifar10/train.npz"
fi
if [[ -f "$stage/SHA256SUMS" ]]; then
  while read -r sum file; do
    if [[ -f "$stage/$file" ]] && [[ "$(sha256sum "$stage/$file" | cut -d' ' -f1)" == "$sum" ]]; then
      echo "gpu_device: $file verified"
    else
      echo "gpu_device: $file missing or incomplete: left out" >&2
      rm -f "$stage/$file"
    fi
  done < "$stage/SHA256SUMS"
fi
[[ -d "$site" ]] && export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHON="${PYTHON:-python3}"  # the interpreter the wheels were installed for checks and runs (gpu_check.sh)
if ! "$PYTHON" -c "import gymnasium, stable_baselines3, pettingzoo, pytorch_msssim, cryptography" 2> /dev/null; then
  echo "gpu_device: semgame's dependencies do not import here: a fresh machine? run the stage calls first" >&2
  exit 3
fi
export SEMGAME_DATA="$stage"
exec bash benchmarks/gpu_check.sh --out "${OUT:?the device tool sets OUT, where results come back from}" "$@"
