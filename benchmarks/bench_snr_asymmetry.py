"""SNR asymmetry: eavesdropper SNR from 10 dB below to 10 dB above the legitimate SNR.

At each eavesdropper SNR: the undefended link, the keyed rotation, the keyed mask (PSR 10 dB) and a cooperative
per-sample PGD perturbation (PSR -10 dB, surrogate at that SNR), each against K fresh eavesdroppers.

    SEMGAME_DATA=../shared/data python benchmarks/bench_snr_asymmetry.py --dataset mnist --quick --out reports/bench-snr
"""

from __future__ import annotations

from common import parser, run

if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--offsets", type=float, nargs="+", default=[-10.0, -5.0, 0.0, 5.0, 10.0])
    p.add_argument("--keyed-psr", type=float, default=10.0)
    p.add_argument("--adv-psr", type=float, default=-10.0)
    args = p.parse_args()

    def body(lab):
        lab.undefended_rows(args.offsets)
        lab.rotation_rows(args.offsets)
        lab.keyed_rows([args.keyed_psr], args.offsets)
        lab.adversarial_rows((("pgd", "per_sample", "cooperative"),), [args.adv_psr], args.offsets)

    run(args, f"Eavesdropper SNR asymmetry ({args.dataset})", "snr", body)
