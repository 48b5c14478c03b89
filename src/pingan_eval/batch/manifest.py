"""``manifest.json``: what a batch ran, on which inputs, with which code, and how it went.

The manifest holds the run's parameters, the SHA-256 of every input (prepared periods,
the raw registers and task logs, the plan, the notebooks), the package versions and git
commit, and one row per notebook. It is the only output with time stamps, so every
other file of equal inputs has equal bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from pingan_eval import paths
from pingan_eval.batch.jobs import BatchOptions
from pingan_eval.batch.notebook_run import NotebookJob, NotebookResult
from pingan_eval.fileio import atomic_write_text, sha256_file

__all__ = ["write_manifest"]

_PACKAGES = ("pingan-eval", "numpy", "pandas", "scipy", "matplotlib", "openpyxl",
             "papermill", "nbclient", "nbconvert", "nbformat", "ipykernel", "jupyter_client",
             "tqdm")


def _hash_tree(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _input_hashes(periods: Sequence[str], raw_dir: Path, processed_dir: Path,
                  plan_path: str, notebooks: Sequence[Path]) -> dict[str, Any]:
    processed = {}
    for p in periods:
        report = json.loads((processed_dir / p / "validation.json").read_text("utf-8"))
        processed[p] = {"files": _hash_tree(processed_dir / p),
                        "raw_inputs": report.get("inputs", {})}
    raw = {}
    for sub in ("registers", "tasks"):  # read from raw by the summary, not via prepare
        raw.update({f"{sub}/{k}": v for k, v in _hash_tree(raw_dir / sub).items()})
    return {
        "processed": processed,
        "raw": raw,
        "plan": {"path": plan_path,
                 "sha256": sha256_file(plan_path) if Path(plan_path).is_file() else None},
        "notebooks": {str(nb): sha256_file(nb) for nb in notebooks},
    }


def _package_versions(scheduler: str | None) -> dict[str, str | None]:
    names = _PACKAGES + (("distributed",) if scheduler else ())
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(*args: str) -> str | None:
    """Output of a git command in the project folder; None without git or a repository
    (and for an installed package, which has no checkout: its version is in packages)."""
    if paths.SOURCE_ROOT is None:
        return None
    try:
        out = subprocess.run(["git", "-C", str(paths.PROJ_ROOT), *args],
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _provenance(scheduler: str | None) -> dict[str, Any]:
    """Package versions and the git commit, for the manifest."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "packages": _package_versions(scheduler),
        "git_commit": _git("rev-parse", "HEAD") or None,
        # uncommitted changes to tracked files: the commit alone does not name the code
        "git_dirty": None if status is None else bool(status),
    }


def write_manifest(options: BatchOptions, *, start: str, duration: float,
                   estimation_seconds: float, trend_periods: list[str],
                   jobs: Sequence[NotebookJob], results: Sequence[NotebookResult],
                   unwritten: Sequence[str] = (),
                   kept: Sequence[dict[str, Any]] = ()) -> Path:
    """Write ``<folder>/manifest.json``; its path.

    ``start`` is the ISO 8601 UTC start of the run, ``duration`` and
    ``estimation_seconds`` its wall-clock seconds; the inputs hashed are the prepared
    ``trend_periods``, the raw registers and task logs, the plan and both notebooks.
    ``unwritten`` names the output files that could not be replaced (the status is then
    ``failed``). ``kept`` are the manifest rows of townships carried over from an earlier
    run (with ``kept_from``, that run's start); they follow this run's notebooks and do
    not count in ``status`` and ``failed``, which describe this run.
    """
    files = {job.area: {"ipynb": Path(job.ipynb_path).name, "html": Path(job.html_path).name}
             for job in jobs}
    manifest = {
        "command": "pingan-eval batch",
        "status": "ok" if all(r.status == "ok" for r in results) and not unwritten
                  else "failed",
        "failed": [r.area for r in results if r.status != "ok"],
        "unwritten": list(unwritten),
        "start": start,
        "duration": round(duration, 3),
        "estimation_seconds": round(estimation_seconds, 3),
        "parameters": {
            # under Dask the workers run as many reports at once as they have threads
            "period": options.period, "townships": options.wanted,
            "jobs": None if options.scheduler else options.n_jobs,
            "out": str(options.folder), "raw": str(options.raw_dir),
            "processed": str(options.processed_dir), "plan": options.plan.path,
            "timeout": options.timeout, "scheduler": options.scheduler,
            "trend_periods": trend_periods,
        },
        "inputs": _input_hashes(trend_periods, options.raw_dir, options.processed_dir,
                                options.plan.path,
                                [options.county_nb, options.township_nb,
                                 *([options.department_nb] if options.department_nb else [])]),
        **_provenance(options.scheduler),
        "notebooks": [{**asdict(r), **files.get(r.area, {"ipynb": None, "html": None})}
                      for r in results] + [dict(row) for row in kept],
    }
    return atomic_write_text(
        options.folder / "manifest.json",
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
