#!/usr/bin/env bash
# Regenerate the default link weights shipped in semgame/weights/ (used by the SemCom-*-v0 envs).
#
#   SEMGAME_DATA=/path/to/data bash benchmarks/make_default_weights.sh [RUNS_DIR]
#
# MNIST and CIFAR-10 are read from $SEMGAME_DATA; Fashion-MNIST from $FASHION_ROOT
# (default /usr/share/datasets, where Debian's `dataset-fashion-mnist` installs the idx files).
# CPU, 1 thread, a few minutes each (the spatial CIFAR-10 alternative: 2 threads, about 48 minutes on a 2-core CPU).
# Every run is seeded; see semgame/weights/README.md.
set -euo pipefail
RUNS=${1:-runs}
FASHION_ROOT=${FASHION_ROOT:-/usr/share/datasets}
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT="$HERE/semgame/weights"

semgame train --run-dir "$RUNS/default-mnist" --dataset mnist --k 16 --width 16 \
    --epochs 3 --eve-epochs 1 --seed 0 --device cpu --threads 1 --quiet
cp "$RUNS/default-mnist/model.pt" "$OUT/mnist.pt"

semgame train --run-dir "$RUNS/default-cifar10" --dataset cifar10 --k 32 --width 16 \
    --epochs 3 --eve-epochs 1 --train-limit 20000 --seed 0 --device cpu --threads 1 --quiet
cp "$RUNS/default-cifar10/model.pt" "$OUT/cifar10.pt"

semgame train --run-dir "$RUNS/default-fashion_mnist" --dataset fashion_mnist --k 16 --width 16 \
    --epochs 3 --eve-epochs 1 --seed 0 --device cpu --threads 1 --quiet --data-root "$FASHION_ROOT"
cp "$RUNS/default-fashion_mnist/model.pt" "$OUT/fashion_mnist.pt"

# the named alternative `cifar10-spatial` (semgame.envs.shipped_link): the spatial k = 256 link of
# README section 1 (48 epochs on 2 threads, about 48 minutes); SKIP_SPATIAL=1 leaves the shipped file
# (and its row of metrics.md) as it is
if [ "${SKIP_SPATIAL:-0}" != 1 ]; then
  semgame train --run-dir "$RUNS/default-cifar10_spatial" --dataset cifar10 --arch spatial --k 256 --width 16 \
      --epochs 48 --eve-epochs 2 --recon-loss psnr --recon-weight 0.09 --schedule onecycle --lr 4e-3 \
      --augment true --seed 0 --device cpu --threads 2 --quiet
  cp "$RUNS/default-cifar10_spatial/model.pt" "$OUT/cifar10_spatial.pt"
fi

python "$HERE/benchmarks/default_weights_metrics.py" "$RUNS" "$OUT/metrics.md"
ls -l "$OUT"/*.pt
