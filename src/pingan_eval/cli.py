"""The ``pingan-eval`` command: ``prepare``, ``synth`` and ``batch``.

Each subcommand parses its arguments here and calls one library function, imported
lazily so that ``pingan-eval --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pingan_eval import paths
from pingan_eval.errors import PinganEvalError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pingan-eval",
        description="Evaluate a county public-safety campaign against its targets.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="validate a survey wave and write clean, weighted data")
    p.add_argument("--period", required=True, action="append",
                   help="YYYY-MM, or 'all' for every wave under RAW/survey; may be repeated")
    p.add_argument("--raw", type=Path, default=paths.SAMPLE_RAW_DIR, help="raw data folder")
    p.add_argument("--out", type=Path, default=paths.PROCESSED_DIR, help="processed data folder")
    p.add_argument("--max-rejected", type=float, default=0.05,
                   help="fail when more than this share of rows is rejected (default 0.05)")
    p.add_argument("--trim", type=float, default=None, metavar="FACTOR",
                   help="trim weights above FACTOR x the township median, e.g. 3.5 "
                        "(default: no trimming)")

    s = sub.add_parser("synth", help="generate the sample county (seeded, same bytes every run)")
    s.add_argument("--out", type=Path, default=paths.SAMPLE_RAW_DIR)
    s.add_argument("--seed", type=int, default=2026)

    b = sub.add_parser("batch", help="render every township report and the county overview")
    b.add_argument("--period", required=True, help="YYYY-MM")
    b.add_argument("--townships", default=None, help="comma-separated subset (default: all)")
    b.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: one per core)")
    b.add_argument("--out", type=Path, default=paths.REPORTS_DIR)
    b.add_argument("--raw", type=Path, default=paths.SAMPLE_RAW_DIR)
    b.add_argument("--processed", type=Path, default=paths.PROCESSED_DIR)
    b.add_argument("--plan", type=Path, default=None,
                   help="plan file (default: the shipped Qinghe plan)")
    b.add_argument("--timeout", type=int, default=600,
                   help="seconds before a stuck kernel is killed")
    b.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (default: local processes)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "prepare":
            from pingan_eval.data.prepare import main_prepare

            return main_prepare(args)
        if args.command == "synth":
            from pingan_eval.data.synth import main_synth

            return main_synth(args)
        if args.command == "batch":
            from pingan_eval.batch.run import main_batch

            return main_batch(args)
    except PinganEvalError as exc:
        print(f"pingan-eval {args.command}: error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse makes this unreachable


if __name__ == "__main__":
    sys.exit(main())
