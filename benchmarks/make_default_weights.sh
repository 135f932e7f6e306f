#!/usr/bin/env bash
# Regenerate the default link weights shipped in semgame/weights/ (used by the SemCom-*-v0 envs).
#
#   SEMGAME_DATA=/path/to/data bash benchmarks/make_default_weights.sh [RUNS_DIR]
#
# MNIST and CIFAR-10 are read from $SEMGAME_DATA; Fashion-MNIST from $FASHION_ROOT
# (default /usr/share/datasets, where Debian's `dataset-fashion-mnist` installs the idx files).
# CPU, 1 thread, a few minutes each (the spatial CIFAR-10 alternative: 2 threads, about 42 minutes on a 2-core CPU).
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
# README section 1 (29 epochs on 2 threads, about 42 minutes); SKIP_SPATIAL=1 leaves the shipped file as it is
if [ "${SKIP_SPATIAL:-0}" != 1 ]; then
  semgame train --run-dir "$RUNS/default-cifar10_spatial" --dataset cifar10 --arch spatial --k 256 --width 16 \
      --epochs 29 --eve-epochs 2 --recon-weight 50 --augment true --seed 0 --device cpu --threads 2 --quiet
  cp "$RUNS/default-cifar10_spatial/model.pt" "$OUT/cifar10_spatial.pt"
fi

python - "$RUNS" "$OUT/metrics.md" <<'PY'
import json, sys
from pathlib import Path
runs, out = Path(sys.argv[1]), Path(sys.argv[2])
lines = ["# Test-set metrics of the shipped default links", "",
         "Written by `benchmarks/make_default_weights.sh` (10 dB legitimate and eavesdropper SNR).", "",
         "| file | legit acc | legit PSNR (dB) | legit SSIM | eavesdropper acc | stored floats (link + eve) |",
         "|---|---|---|---|---|---|"]
import torch
for ds in ("mnist", "cifar10", "fashion_mnist", "cifar10_spatial"):
    if not (runs / f"default-{ds}" / "metrics.json").is_file():  # (SKIP_SPATIAL=1)
        continue
    m = json.loads((runs / f"default-{ds}" / "metrics.json").read_text())["test"]
    state = torch.load(out.parent / f"{ds}.pt", weights_only=True)
    n = sum(v.numel() for part in ("link", "eve") for k, v in state[part].items() if v.is_floating_point())
    lines.append(f"| {ds}.pt | {m['legit_acc']:.4f} | {m['legit_psnr']:.2f} | {m['legit_ssim']:.3f} | {m['eve_acc']:.4f} | {n:,} |")
out.write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
ls -l "$OUT"/*.pt
