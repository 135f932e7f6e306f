"""Keyed defences at no or some power cost: the keyed rotation and the keyed mask against fresh eavesdroppers.

Rows (each eavesdropper SNR offset): the undefended link, the keyed rotation (``x_tx = U_n x``, tx power
1.00) and the keyed mask at ``--psrs`` (power added). ``--fresh-model strong`` judges them with the strong
eavesdropper (its own CSI as input, 3x512 MLP, up to ``--fresh-epochs`` epochs with early stopping).
Issue #8's targets at equal SNR: fresh eavesdropper <= chance + 3 points, legitimate accuracy within
0.3 points of undefended, tx power 1.00.

    SEMGAME_DATA=../shared/data python benchmarks/bench_keyed.py --dataset mnist --quick \\
        --link-dir reports/mnist/runs/link --test-limit 10000 --fresh-model strong --fresh-epochs 15 \\
        --out reports/bench-keyed-strong
"""

from __future__ import annotations

from common import parser, run

if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--offsets", type=float, nargs="+", default=[0.0], help="eavesdropper SNR minus legitimate SNR (dB)")
    p.add_argument("--psrs", type=float, nargs="*", default=[10.0], help="keyed mask budgets (dB); none to skip")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the rotation")
    args = p.parse_args()

    def body(lab):
        lab.undefended_rows(args.offsets)
        lab.rotation_rows(args.offsets, rounds=args.rounds)
        if args.psrs:
            lab.keyed_rows(args.psrs, args.offsets)

    run(args, f"Keyed rotation and keyed mask ({args.dataset})", "perturbation", body)
