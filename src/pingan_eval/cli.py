"""The ``pingan-eval`` command: ``init``, ``synth``, ``prepare`` and ``batch``.

Each subcommand parses its arguments here and calls one library function, imported
lazily so that ``pingan-eval --help`` stays fast. Folders default to those of the
workspace the command runs in (:mod:`pingan_eval.workspace`): ``--workspace DIR``, else
the folder holding ``pingan-eval.toml`` at or above the working directory (the source
checkout is the sample county's workspace).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pingan_eval import workspace as ws_mod
from pingan_eval.errors import PinganEvalError

_WS = ("the workspace's", "(a workspace: --workspace DIR, or the folder holding "
       "pingan-eval.toml at or above the working directory)")
_SAMPLE_TOWNSHIPS = 7
_SAMPLE_RESPONDENTS = 1500  # per wave, for the sample's 7 townships


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pingan-eval")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from an unbuilt tree
        return "unknown"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pingan-eval",
        description="Evaluate a county public-safety campaign against its targets. "
                    "Start with `pingan-eval init DIR`; every command run inside DIR "
                    "reads and writes there.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", type=Path, default=None, metavar="DIR",
                        help="the workspace to use (default: the folder holding "
                             "pingan-eval.toml at or above the working directory; in the "
                             "source checkout, the checkout itself)")

    i = sub.add_parser("init", help="create a workspace for a county",
                       description="Create a workspace in DIR: pingan-eval.toml (the "
                                   "folders), plan.toml (the shipped plan, to edit), "
                                   "data/raw/ (README.md: the files to put there; "
                                   "columns.toml.template), data/processed/, reports/.")
    i.add_argument("dir", type=Path, metavar="DIR",
                   help="folder to create (it may exist, but not be a workspace already)")

    p = sub.add_parser("prepare", parents=[common],
                       help="validate a survey wave and write clean, weighted data",
                       description="Validate survey waves of the raw dataset and write "
                                   "clean, weighted data to PROCESSED/<period>/.")
    p.add_argument("--period", required=True, action="append",
                   help="YYYY-MM, or 'all' for every wave under RAW/survey; may be repeated "
                        "(required)")
    p.add_argument("--raw", type=Path, default=None, metavar="RAW",
                   help=f"raw dataset folder (default: {_WS[0]} data/raw; data/raw/sample "
                        f"in the source checkout) {_WS[1]}")
    p.add_argument("--out", type=Path, default=None, metavar="PROCESSED",
                   help=f"processed data folder (default: {_WS[0]} data/processed)")
    p.add_argument("--max-rejected", type=float, default=0.05, metavar="SHARE",
                   help="fail when more than this share of rows is rejected (default 0.05)")
    p.add_argument("--trim", type=float, default=None, metavar="FACTOR",
                   help="trim weights above FACTOR x the township median, e.g. 3.5 "
                        "(default: no trimming)")

    s = sub.add_parser("synth", parents=[common],
                       help="generate a synthetic county (seeded, same bytes every run)",
                       description="Generate a synthetic county's raw dataset. Written into "
                                   "a workspace's raw folder, it also puts the synthetic "
                                   "townships into the workspace's plan (its `townships` "
                                   "line), so that prepare and batch there just work.")
    s.add_argument("--out", type=Path, default=None, metavar="RAW",
                   help=f"folder to write, replaced as a whole (default: {_WS[0]} raw "
                        "folder, data/raw; data/raw/sample in the source checkout)")
    s.add_argument("--seed", type=int, default=2026,
                   help="seed of every random stream (default 2026: the shipped sample)")
    s.add_argument("--townships", type=int, default=_SAMPLE_TOWNSHIPS, metavar="N",
                   help="number of townships (default 7: Qinghe's; beyond 7 extra ones "
                        "are named 测试乡001, 测试乡002, ...)")
    s.add_argument("--periods", type=int, default=12, metavar="K",
                   help="number of monthly survey waves, ending with --last-period "
                        "(default 12)")
    s.add_argument("--last-period", default="2026-11", metavar="YYYY-MM",
                   help="the last wave's month; its year is the registers' plan year "
                        "(default 2026-11)")
    s.add_argument("--respondents", type=int, default=None, metavar="N",
                   help="planned respondents per wave for the whole county (default: about "
                        "214 per township, 1500 for 7)")

    b = sub.add_parser("batch", parents=[common],
                       help="render every township report and the county overview",
                       description="Render the period's township reports, the county "
                                   "overview and the index into OUT/<period>/.")
    b.add_argument("--period", required=True, help="YYYY-MM, prepared before (required)")
    b.add_argument("--townships", default=None, metavar="A,B",
                   help="comma-separated subset of the plan's townships (default: all)")
    b.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: one per core)")
    b.add_argument("--out", type=Path, default=None,
                   help=f"reports folder; reports go to OUT/<period>/ (default: {_WS[0]} "
                        "reports)")
    b.add_argument("--raw", type=Path, default=None,
                   help=f"raw dataset folder, for registers and task logs (default: {_WS[0]}"
                        " data/raw; data/raw/sample in the source checkout)")
    b.add_argument("--processed", type=Path, default=None,
                   help=f"prepared data folder (default: {_WS[0]} data/processed)")
    b.add_argument("--plan", type=Path, default=None,
                   help=f"plan file (default: {_WS[0]} plan.toml; the shipped Qinghe plan "
                        "in the source checkout)")
    b.add_argument("--timeout", type=int, default=600, metavar="SECONDS",
                   help="seconds before a stuck kernel is killed (default 600)")
    b.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="Dask scheduler address, tcp://HOST:8786 (default: local processes)")
    return parser


def _workspace(args: argparse.Namespace, needed: bool) -> ws_mod.Workspace | None:
    """The command's workspace; with ``--workspace`` also exported to the report kernels."""
    ws = ws_mod.current(args.workspace)
    if args.workspace is not None and ws is not None:
        os.environ[ws_mod.ENV_VAR] = str(ws.root)
    if ws is None and needed:
        raise ws_mod.WorkspaceError(
            "not in a pingan-eval workspace: create one with `pingan-eval init DIR` and run "
            "the command inside it, or pass --workspace DIR (or every folder option)")
    return ws


def _resolve(args: argparse.Namespace, names: dict[str, str]) -> ws_mod.Workspace | None:
    """Fill the folder options left out (``None``) from the workspace."""
    ws = _workspace(args, needed=any(getattr(args, a) is None for a in names))
    for arg, attr in names.items():
        if getattr(args, arg) is None:
            setattr(args, arg, getattr(ws, attr))
    return ws


def _init(args: argparse.Namespace) -> int:
    ws = ws_mod.init_workspace(args.dir)
    print(f"init: workspace {ws.root}\n  plan      {ws.plan}\n  raw data  {ws.raw} "
          f"(see README.md there)\n  processed {ws.processed}\n  reports   {ws.reports}\n"
          f"next: put the county's files into {ws.raw} (or `pingan-eval synth` for a "
          "synthetic county), then `pingan-eval prepare --period all` and "
          "`pingan-eval batch --period YYYY-MM` inside the workspace")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from pingan_eval.data.synth import main_synth

    ws = _resolve(args, {"out": "raw"})
    out = ws_mod.check_writable(args.out, "the synthetic county")
    if args.respondents is None:
        args.respondents = round(_SAMPLE_RESPONDENTS * args.townships / _SAMPLE_TOWNSHIPS)
    into_ws = ws is not None and out == ws.raw
    if into_ws and (out / "survey").is_dir() and not (out / "truth.csv").is_file():
        raise ws_mod.WorkspaceError(f"{out}: holds survey data that synth did not write; "
                                    "refusing to replace it (choose another --out)")
    if into_ws and ws.plan_is_shipped and args.townships != _SAMPLE_TOWNSHIPS:
        raise ws_mod.WorkspaceError(
            f"{ws.root}: this workspace's plan is the shipped plan ({ws.plan.name}), which "
            "lists the sample's 7 townships; make a workspace of your own for another "
            "county size (`pingan-eval init DIR`, then synth there) or pass --out")
    docs = [f.name for f in (out / "README.md", out / "columns.toml.template") if f.is_file()]
    code = main_synth(args)
    if docs:  # synth replaces the folder as a whole; keep the workspace's notes in it
        ws_mod.copy_raw_docs(out)
    if into_ws and not ws.plan_is_shipped:
        import pandas as pd

        from pingan_eval.plan import load_plan

        townships = list(dict.fromkeys(pd.read_csv(out / "frame.csv")["township"]))
        ws_mod.set_plan_townships(ws.plan, townships)
        load_plan(ws.plan)  # fails loudly if the edit broke the plan
        print(f"synth: the plan {ws.plan} now lists these {len(townships)} townships")
    elif not into_ws:
        print("synth: no plan was changed; the plan used with this data must list its "
              "townships (frame.csv)")
    return code


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "init":
            return _init(args)
        if args.command == "prepare":
            from pingan_eval.data.prepare import main_prepare

            _resolve(args, {"raw": "raw", "out": "processed"})
            ws_mod.check_writable(args.out, "processed data")
            return main_prepare(args)
        if args.command == "synth":
            return _synth(args)
        if args.command == "batch":
            from pingan_eval.batch.run import main_batch

            ws = _resolve(args, {"raw": "raw", "processed": "processed", "out": "reports"})
            if args.plan is None and ws is not None and not ws.plan_is_shipped:
                args.plan = ws.plan
            ws_mod.check_writable(args.out, "reports")
            return main_batch(args)
    except PinganEvalError as exc:
        print(f"pingan-eval {args.command}: error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse makes this unreachable


if __name__ == "__main__":
    sys.exit(main())
