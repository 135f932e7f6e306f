#!/usr/bin/env bash
# Prepare, on this (CPU) machine, what the GPU check needs on the lent GPU machine, in parts small
# enough to travel: `run` sends the working tree plus its `carry` paths, at most 64 MiB a call.
#
#   SEMGAME_DATA=../shared/data bash benchmarks/gpu_prepare.sh
#
# Writes the ignored folder .gpu/:
#   .gpu/whl/  cp312 wheels of the packages semgame needs that the GPU machine's image lacks
#              (its python3 is 3.12 with torch, numpy, tensorboard, matplotlib, tqdm; read
#              /work/.library/device/KINDS.md);
#   .gpu/d1/   MNIST (train, test) and the CIFAR-10 test set, and SHA256SUMS of every data file;
#   .gpu/d2/ ... CIFAR-10's training set cut into PART_MIB-MiB parts (cifar10/train.npz.part-aa, ...).
# Then prints the `run` calls that stage them there (benchmarks/gpu_device.sh) and run the check.
# PART_MIB (default 46) sizes the parts: the tree itself is about 13 MiB and travels with each call.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${SEMGAME_DATA:-../shared/data}"
part_mib="${PART_MIB:-46}"
for f in mnist/train.npz mnist/test.npz cifar10/test.npz cifar10/train.npz; do
  [[ -f "$data/$f" ]] || { echo "gpu_prepare: $data/$f not found (set SEMGAME_DATA)" >&2; exit 1; }
done
rm -rf .gpu
mkdir -p .gpu/whl .gpu/d1/mnist .gpu/d1/cifar10 .gpu/parts/cifar10
# versions as this project's venv resolves them (pip's --python-version needs --no-deps: the rest is there)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .gpu/whl gymnasium==1.4.0 farama-notifications==0.0.4 stable-baselines3==2.9.2 pettingzoo==1.27.0 \
  pytorch-msssim==1.0.0 cryptography==50.0.2 cffi==2.1.1 pycparser==3.12
cp "$data/mnist/train.npz" "$data/mnist/test.npz" .gpu/d1/mnist/
cp "$data/cifar10/test.npz" .gpu/d1/cifar10/
(cd "$data" && sha256sum mnist/train.npz mnist/test.npz cifar10/test.npz cifar10/train.npz) > .gpu/d1/SHA256SUMS
split -b "${part_mib}M" "$data/cifar10/train.npz" .gpu/parts/cifar10/train.npz.part-
n=1
for part in .gpu/parts/cifar10/train.npz.part-*; do
  n=$((n + 1))
  mkdir -p ".gpu/d$n/cifar10"
  mv "$part" ".gpu/d$n/cifar10/"
done
rm -rf .gpu/parts
kib() { du -sk "$@" | awk '{s += $1} END {print s}'; }
tree=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1)
largest=$(kib .gpu/whl .gpu/d1)
for d in .gpu/d*; do largest=$(( $(kib "$d") > largest ? $(kib "$d") : largest )); done
echo "gpu_prepare: the tree travels with every call: $((tree / 1024)) MiB; the largest call adds $((largest / 1024)) MiB"
if ((tree + largest > 62 * 1024)); then
  echo "gpu_prepare: that is over the 64 MiB a call may carry (with a margin): lower PART_MIB" >&2
  exit 1
fi
echo
echo "On the GPU machine, one call after the other (it stays warm about 30 s after each); the first checks"
echo "every section but CIFAR-10's training run, whose data comes in the next calls, so that a machine lost"
echo "in between costs only that run:"
echo "  run(command=\"GPU_CHECK_TIMEOUT=360 bash benchmarks/gpu_device.sh check --sections env sync train bench\", carry=[\".gpu/whl\", \".gpu/d1\"], timeout_s=450)"
for ((i = 2; i < n; i++)); do
  echo "  run(command=\"bash benchmarks/gpu_device.sh stage\", carry=[\".gpu/d$i\"], timeout_s=120)"
done
echo "  run(command=\"GPU_CHECK_TIMEOUT=330 bash benchmarks/gpu_device.sh check --sections cifar80\", carry=[\".gpu/d$n\"], timeout_s=400)"
echo "Copy what the first check brings back to .gpu/first/ before the next call; after the last, give the machine"
echo "back and join the two results into benchmarks/results/gpu/:"
echo "  python benchmarks/gpu_check.py --merge .gpu/first/<device>.json <the last call's files>/<device>.json"
