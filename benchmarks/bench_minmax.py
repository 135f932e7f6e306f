"""Min-max privacy-utility sweep: lambda at equal eavesdropper SNR and with the eavesdropper 10 dB worse.

For each eavesdropper SNR offset and lambda, the trained undefended link is fine-tuned by the
alternating min-max game (``semgame.privacy.minmax``) against an in-loop eavesdropper; then K fresh
eavesdroppers are trained from scratch on the frozen link's waveforms. The table puts the fresh
eavesdroppers next to the in-loop one, an eavesdropper trained on the undefended link (transfer),
legitimate accuracy / PSNR and chance.

    SEMGAME_DATA=../shared/data python benchmarks/bench_minmax.py --dataset mnist --quick \
        --lambdas 0 0.1 0.3 1 3 --offsets 0 -10 --out reports/bench-minmax
"""

from __future__ import annotations

from common import parser, run

if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 0.1, 0.3, 1.0, 3.0])
    p.add_argument(
        "--offsets", type=float, nargs="+", default=[0.0, -10.0], help="eavesdropper SNR minus legitimate SNR (dB)"
    )
    p.add_argument("--objective", default=None, choices=("neg_ce", "kl_uniform"))
    p.add_argument("--rounds", type=int, help="override: min-max rounds (epochs)")
    p.add_argument("--minmax-train-limit", type=int, help="override: training images used by the game")
    p.add_argument(
        "--legit-finetune-epochs",
        type=int,
        default=0,
        help="after the game, fine-tune the legitimate receiver alone (encoder frozen) for this many epochs",
    )
    p.add_argument("--gate-snr-db", type=float, help="step shaping: effective-SNR gate t (dB) of the game's losses")
    p.add_argument("--eve-snr-spread-db", type=float, help="in-loop eavesdropper SNR drawn in eve SNR +- this (dB)")
    p.add_argument("--eve-steps", type=int, help="in-loop eavesdropper updates per mini-batch")
    p.add_argument("--no-undefended", action="store_true", help="skip the undefended rows")
    args = p.parse_args()
    options = {
        k: v
        for k, v in (
            ("gate_snr_db", args.gate_snr_db),
            ("eve_snr_spread_db", args.eve_snr_spread_db),
            ("eve_steps", args.eve_steps),
        )
        if v is not None
    }

    def body(lab):
        if not args.no_undefended:
            lab.undefended_rows(args.offsets)
        lab.minmax_rows(args.lambdas, args.offsets, args.objective, args.legit_finetune_epochs, **options)

    run(
        args,
        f"Min-max lambda sweep ({args.dataset})",
        "minmax",
        body,
        minmax_rounds=args.rounds,
        minmax_train_limit=args.minmax_train_limit,
    )
