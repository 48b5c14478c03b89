"""What one batch runs: its options checked, a portable file name per area, the jobs.

:func:`batch_options` checks and resolves the arguments of
:func:`~pingan_eval.batch.run.run_batch` before anything is computed or written;
:func:`notebook_jobs` turns them into one :class:`~pingan_eval.batch.notebook_run.NotebookJob`
per report (the county overview first), each under the file stem
:func:`report_filenames` gives its area.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pingan_eval import paths, workspace
from pingan_eval.batch.notebook_run import NotebookJob, NotebookResult
from pingan_eval.errors import ReportError

if TYPE_CHECKING:
    from pingan_eval.plan import Plan

__all__ = ["BatchOptions", "batch_options", "notebook_jobs", "report_filenames",
           "unknown_result"]

_PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Characters Windows, macOS or Linux refuse in file names, and control characters.
_UNSAFE_FILENAME = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
#: Longest file stem in UTF-8 bytes: with ``.ipynb`` and the temporary's ``.<name>.xxxx.tmp``
#: far below the 255 bytes file systems allow, and short enough for Windows paths.
MAX_STEM_BYTES = 100
#: File names the batch writes itself; a township called like one gets a suffix.
_RESERVED_STEMS = {"county", "departments", "index", "summary", "manifest", "_data", "con",
                   "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                   *(f"lpt{i}" for i in range(10))}


@dataclass(frozen=True)
class BatchOptions:
    """The arguments of one batch, checked and resolved (see :func:`batch_options`).

    Attributes
    ----------
    period : str
    raw_dir, processed_dir : pathlib.Path
        Resolved.
    plan : Plan
    wanted : list of str
        The townships asked for, in order, without repeats.
    known, unknown : list of str
        Those of ``wanted`` the plan has, and the others (failed rows).
    township_nb, county_nb : pathlib.Path
        The report notebooks.
    folder : pathlib.Path
        ``<out>/<period>``, resolved.
    n_jobs : int
        Local worker processes: at most one per notebook.
    timeout : float
    scheduler : str or None
    """

    period: str
    raw_dir: Path
    processed_dir: Path
    plan: Plan
    wanted: list[str]
    known: list[str]
    unknown: list[str]
    township_nb: Path
    county_nb: Path
    folder: Path
    n_jobs: int
    timeout: float
    scheduler: str | None
    department_nb: Path | None = None


#: The area name and file stem of the department overview (the tasks by department).
DEPARTMENTS_AREA = "县直部门"
DEPARTMENTS_STEM = "departments"


def report_filenames(areas: Sequence[str]) -> dict[str, str]:
    """A distinct, portable file stem per area name (the name itself where it is safe).

    Characters no file system accepts become ``_``; a stem longer than
    :data:`MAX_STEM_BYTES` bytes (UTF-8) is cut and ends with ``-`` and 8 hex digits of
    the name's SHA-256 (stable from run to run, distinct per name); names the batch uses
    itself (``county``, ``index``, ...) and Windows device names get a ``_`` suffix;
    clashes get ``-2``, ``-3``. The notebook still receives the exact name as its
    parameter.

    Examples
    --------
    >>> report_filenames(["青河镇", 'a/b "c"', "index", "a_b _c_"])
    {'青河镇': '青河镇', 'a/b "c"': 'a_b _c_', 'index': 'index_', 'a_b _c_': 'a_b _c_-2'}
    >>> report_filenames(["乡" * 200])["乡" * 200]
    '乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡乡-dc4a8ccd'
    """
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for area in areas:
        stem = _UNSAFE_FILENAME.sub("_", area).strip(" .") or "_"
        if len(stem.encode("utf-8")) > MAX_STEM_BYTES:
            digest = hashlib.sha256(area.encode("utf-8")).hexdigest()[:8]
            cut = stem.encode("utf-8")[:MAX_STEM_BYTES - 10].decode("utf-8", "ignore")
            stem = f"{cut.rstrip(' .')}-{digest}"
        if stem.lower() in _RESERVED_STEMS:
            stem += "_"
        candidate, k = stem, 1
        while candidate.lower() in taken:
            k += 1
            candidate = f"{stem}-{k}"
        taken.add(candidate.lower())
        stems[area] = candidate
    return stems


def _check_output(out_dir: Path, raw_dir: Path, processed_dir: Path) -> None:
    """Refuse an output folder that is, or lies under, the raw data folder (as ``prepare``
    does) or the prepared data folder: inputs are never overwritten or mixed with reports."""
    inputs = {raw_dir.resolve(): "raw", paths.RAW_DIR.resolve(): "raw",
              processed_dir.resolve(): "prepared"}
    for folder, what in inputs.items():
        if out_dir == folder or folder in out_dir.parents:
            raise ReportError(f"{out_dir}: refusing to write reports under the {what} data "
                              f"folder {folder}; choose another --out")


def _check_inputs(period: str, processed_dir: Path) -> None:
    if not _PERIOD_RE.match(str(period)):
        raise ReportError(f"unknown period {period!r}: periods are written YYYY-MM")
    if not (processed_dir / period / "validation.json").is_file():
        raise ReportError(f"{processed_dir / period}: no prepared data for {period}; "
                          f"run `pingan-eval prepare --period {period}` first")


def batch_options(
    period: str,
    *,
    townships: Sequence[str] | None,
    jobs: int | None,
    out_dir: str | os.PathLike,
    raw_dir: str | os.PathLike,
    processed_dir: str | os.PathLike,
    plan: str | os.PathLike | None,
    timeout: float,
    scheduler: str | None,
    township_notebook: str | os.PathLike | None,
    county_notebook: str | os.PathLike | None,
    department_notebook: str | os.PathLike | None = None,
) -> BatchOptions:
    """Check the arguments of :func:`~pingan_eval.batch.run.run_batch`; read the plan.

    Raises
    ------
    ReportError
        The period is malformed or not prepared, ``out_dir`` is (under) the raw or
        the prepared data folder, ``jobs`` is below 1, ``timeout`` is not positive, a
        report notebook is missing.
    PlanError
        From the plan.
    """
    from pingan_eval.summary import resolve_plan

    raw_dir, processed_dir = Path(raw_dir).resolve(), Path(processed_dir).resolve()
    out = Path(out_dir).resolve()
    _check_output(out, raw_dir, processed_dir)
    _check_inputs(period, processed_dir)
    if jobs is not None and jobs < 1:
        raise ReportError(f"jobs must be at least 1, got {jobs}")
    if not timeout > 0:
        raise ReportError(f"timeout must be a positive number of seconds, got {timeout}")
    plan_obj = resolve_plan(plan)
    wanted = list(plan_obj.townships) if townships is None else list(dict.fromkeys(townships))
    known = [t for t in wanted if t in plan_obj.townships]
    unknown = [t for t in wanted if t not in plan_obj.townships]
    # default: the workspace's own copy of a notebook, else the packaged one
    township_nb = Path(township_notebook or workspace.notebook("township_report.ipynb"))
    county_nb = Path(county_notebook or workspace.notebook("county_overview.ipynb"))
    department_nb = Path(department_notebook
                         or workspace.notebook("department_overview.ipynb"))
    for nb in (township_nb, county_nb, department_nb):
        if not nb.is_file():
            raise ReportError(f"{nb}: report notebook not found")
    return BatchOptions(
        period=period, raw_dir=raw_dir, processed_dir=processed_dir, plan=plan_obj,
        wanted=wanted, known=known, unknown=unknown, township_nb=township_nb,
        county_nb=county_nb, folder=out / period,
        n_jobs=max(1, min(jobs or os.cpu_count() or 1, 1 + len(known))),
        timeout=timeout, scheduler=scheduler, department_nb=department_nb,
    )


def notebook_jobs(options: BatchOptions, cache: dict[str, str],
                  area_caches: dict[str, dict[str, str]] | None = None) -> list[NotebookJob]:
    """The county overview first, then the department overview (when
    ``options.department_nb`` is set), then one job per known township.

    Each notebook gets ``period``, ``raw_dir``, ``processed_dir``, ``plan_path`` and the
    paths of the cached estimates (``cache``, see
    :func:`pingan_eval.batch.estimation.write_cache`); a township's also ``township``, and
    its own cache (``area_caches``, :func:`~pingan_eval.batch.estimation.write_area_caches`)
    in place of the county's where given.
    """
    period, folder, timeout = options.period, options.folder, options.timeout
    common = {"period": period, "raw_dir": str(options.raw_dir),
              "processed_dir": str(options.processed_dir),
              "plan_path": options.plan.path or None, **cache}
    county = options.plan.county
    stems = report_filenames(options.known)
    jobs = [NotebookJob(
        area=county, level="county", notebook=str(options.county_nb),
        ipynb_path=str(folder / "county.ipynb"), html_path=str(folder / "county.html"),
        parameters=common, timeout=timeout, title=f"{county} {period} 平安建设评估总览",
    )]
    if options.department_nb is not None:
        jobs.append(NotebookJob(
            area=DEPARTMENTS_AREA, level="department", notebook=str(options.department_nb),
            ipynb_path=str(folder / f"{DEPARTMENTS_STEM}.ipynb"),
            html_path=str(folder / f"{DEPARTMENTS_STEM}.html"), parameters=common,
            timeout=timeout, title=f"{county} {period} 县直部门任务落实情况",
        ))
    jobs += [NotebookJob(
        area=t, level="township", notebook=str(options.township_nb),
        ipynb_path=str(folder / f"{stems[t]}.ipynb"), html_path=str(folder / f"{stems[t]}.html"),
        parameters={"township": t, **common, **(area_caches or {}).get(t, {})},
        timeout=timeout,
        title=f"{t} {period} 平安建设评估报告",
    ) for t in options.known]
    return jobs


def unknown_result(area: str, plan_townships: Sequence[str]) -> NotebookResult:
    """The failed result of a township the plan does not know (no notebook ran)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return NotebookResult(
        area=area, level="township", status="failed", start=now, duration=0.0,
        error={"cell_index": None, "exec_count": None, "ename": "UnknownTownship",
               "evalue": f"{area!r} is not a township of the plan "
                         f"({', '.join(plan_townships)})", "source": ""},
    )
