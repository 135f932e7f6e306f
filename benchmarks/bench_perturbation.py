"""Perturbation PSR sweep on a link trained only for its own tasks: every variant of the perturbation layer.

Variants: keyed rotation (no power cost), keyed mask (power added, and total power renormalised),
FGM per-sample (eavesdropper-only), PGD per-sample (eavesdropper-only and cooperative), PGD universal
(cooperative), and PGD per-sample cooperative with a fine-tuned legitimate receiver. Adversarial
variants attack the transmitter's own surrogate eavesdropper (the in-loop column); K fresh
eavesdroppers are then trained from scratch on recorded defended transmissions.

    SEMGAME_DATA=../shared/data python benchmarks/bench_perturbation.py --dataset mnist --quick \\
        --out reports/bench-perturbation
"""

from __future__ import annotations

from common import parser, run

if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--adv-psrs", type=float, nargs="+", default=[-30.0, -20.0, -10.0, 0.0])
    p.add_argument("--keyed-psrs", type=float, nargs="+", default=[-10.0, 0.0, 5.0, 10.0, 15.0])
    p.add_argument("--offset", type=float, default=0.0, help="eavesdropper SNR minus legitimate SNR (dB)")
    p.add_argument("--mu", type=float, default=1.0, help="cooperative weight")
    args = p.parse_args()
    off = (args.offset,)

    def body(lab):
        lab.undefended_rows(off)
        lab.rotation_rows(off)
        lab.keyed_rows(args.keyed_psrs, off, power="add")
        lab.keyed_rows([x for x in args.keyed_psrs if x >= 0], off, power="fixed")
        lab.adversarial_rows(
            (
                ("fgm", "per_sample", "eve"),
                ("pgd", "per_sample", "eve"),
                ("pgd", "per_sample", "cooperative"),
                ("pgd", "universal", "cooperative"),
            ),
            args.adv_psrs,
            off,
            mu=args.mu,
        )
        lab.adversarial_rows(
            (("pgd", "per_sample", "cooperative"),),
            [x for x in args.adv_psrs if x >= -10],
            off,
            mu=args.mu,
            finetune=True,
        )

    run(args, f"Perturbation PSR sweep ({args.dataset})", "perturbation", body)
