"""``pingan-eval batch``: every township report and the county overview for one month.

The estimates are computed once for all areas (:func:`pingan_eval.summary.period_summary`
is vectorized over townships) and cached in ``<out>/<period>/_data/``; then each report
notebook runs with papermill in its own worker (local processes by default, or a Dask
cluster) and only reads the cache. One failing notebook never stops the others.

Output folder ``<out>/<period>/``::

    <township>.ipynb, <township>.html   one per township (failed ones too)
    county.ipynb, county.html           the county overview
    index.html                          links, run status and verdicts at a glance
    summary.csv, summary.xlsx           period x area x indicator (see USER_COLUMNS)
    manifest.json                       parameters, input hashes, versions, status
    _data/summary.csv, trends.csv, breakdowns.csv, registers/   what the notebooks read

Every file is written atomically; equal inputs give byte-identical notebooks, HTML, CSV
and XLSX files (the time stamps live in ``manifest.json`` only).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from pingan_eval import paths
from pingan_eval.batch.notebook_run import NotebookJob, NotebookResult, run_notebook
from pingan_eval.errors import ReportError
from pingan_eval.fileio import atomic_write_bytes, atomic_write_text, sha256_file
from pingan_eval.labels import zh
from pingan_eval.report.htmlexport import notebook_to_html
from pingan_eval.report.index_page import ReportEntry, render_index

__all__ = ["USER_COLUMNS", "BatchResult", "main_batch", "run_batch"]

#: Columns of the users' ``summary.csv`` / ``summary.xlsx``, in order.
USER_COLUMNS = (
    "period", "area", "area_level", "indicator", "name_zh", "source",
    "estimate", "ci_low", "ci_high", "n", "target", "verdict", "verdict_zh", "flag",
)

_PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Characters Windows, macOS or Linux refuse in file names, and control characters.
_UNSAFE_FILENAME = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
#: File names the batch writes itself; a township called like one gets a suffix.
_RESERVED_STEMS = {"county", "index", "summary", "manifest", "_data", "con", "prn", "aux",
                   "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_PACKAGES = ("pingan-eval", "numpy", "pandas", "scipy", "matplotlib", "openpyxl",
             "papermill", "nbclient", "nbconvert", "nbformat", "ipykernel", "jupyter_client",
             "tqdm")


@dataclass(frozen=True)
class BatchResult:
    """What :func:`run_batch` wrote.

    Attributes
    ----------
    period : str
    folder : pathlib.Path
        ``<out>/<period>``.
    index_path, manifest_path : pathlib.Path
    summary : pandas.DataFrame
        The users' summary table (:data:`USER_COLUMNS`).
    notebooks : tuple of NotebookResult
        County first, then townships in plan order, then unknown names asked for.
    duration : float
        Wall-clock seconds.
    estimation_seconds : float
        Seconds spent computing the period's and the trend's estimates (once).
    """

    period: str
    folder: Path
    index_path: Path
    manifest_path: Path
    summary: pd.DataFrame
    notebooks: tuple[NotebookResult, ...]
    duration: float
    estimation_seconds: float

    @property
    def failed(self) -> tuple[NotebookResult, ...]:
        """The notebooks whose status is not ``"ok"``."""
        return tuple(r for r in self.notebooks if r.status != "ok")

    @property
    def ok(self) -> bool:
        """True when every notebook ran."""
        return not self.failed


def report_filenames(areas: Sequence[str]) -> dict[str, str]:
    """A distinct, portable file stem per area name (the name itself where it is safe).

    Characters no file system accepts become ``_``; names the batch uses itself
    (``county``, ``index``, ...) and Windows device names get a ``_`` suffix; clashes
    get ``-2``, ``-3``. The notebook still receives the exact name as its parameter.

    Examples
    --------
    >>> report_filenames(["青河镇", 'a/b "c"', "index", "a_b _c_"])
    {'青河镇': '青河镇', 'a/b "c"': 'a_b _c_', 'index': 'index_', 'a_b _c_': 'a_b _c_-2'}
    """
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for area in areas:
        stem = _UNSAFE_FILENAME.sub("_", area).strip(" .") or "_"
        if stem.lower() in _RESERVED_STEMS:
            stem += "_"
        candidate, k = stem, 1
        while candidate.lower() in taken:
            k += 1
            candidate = f"{stem}-{k}"
        taken.add(candidate.lower())
        stems[area] = candidate
    return stems


def _check_inputs(period: str, processed_dir: Path) -> None:
    if not _PERIOD_RE.match(str(period)):
        raise ReportError(f"unknown period {period!r}: periods are written YYYY-MM")
    if not (processed_dir / period / "validation.json").is_file():
        raise ReportError(f"{processed_dir / period}: no prepared data for {period}; "
                          f"run `pingan-eval prepare --period {period}` first")


def _prepared_periods(raw_dir: Path, processed_dir: Path) -> list[str]:
    from pingan_eval.data.prepare import available_periods

    return [p for p in available_periods(raw_dir)
            if (processed_dir / p / "validation.json").is_file()]


def _unknown_result(area: str, plan_townships: Sequence[str]) -> NotebookResult:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return NotebookResult(
        area=area, level="township", status="failed", start=now, duration=0.0,
        error={"cell_index": None, "exec_count": None, "ename": "UnknownTownship",
               "evalue": f"{area!r} is not a township of the plan "
                         f"({', '.join(plan_townships)})", "source": ""},
    )


def _crashed_result(job: NotebookJob, exc: BaseException) -> NotebookResult:
    """A result for a job whose worker itself failed (not the notebook)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return NotebookResult(
        area=job.area, level=job.level, status="failed", start=now, duration=0.0,
        error={"cell_index": None, "exec_count": None, "ename": type(exc).__name__,
               "evalue": " ".join(str(exc).split())[:500], "source": ""},
    )


@contextlib.contextmanager
def worker_pool(n_jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    """Local worker processes, started at once so they import while the batch estimates.

    Yields None for ``n_jobs == 1`` (notebooks then run in this process). Workers use
    "spawn" everywhere: the same behaviour as on Windows and macOS, and no fork of a
    process that already runs threads. On Ctrl-C (or any error) queued notebooks are
    dropped and running workers are terminated; each kills its kernel (own session, so
    the terminal's SIGINT missed it) before exiting. Files already written are whole
    (atomic writes).
    """
    if n_jobs <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker)
    try:
        for _ in range(n_jobs):  # processes are spawned on submit
            pool.submit(_warm_up)
        yield pool
    except BaseException:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _init_worker() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them (see worker_pool).

    When the parent terminates a worker, the worker kills its running kernel before it
    exits, so no kernel outlives the batch.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


def _stop_worker(signum: int, frame: object) -> None:
    from pingan_eval.batch.notebook_run import kill_running_kernels

    kill_running_kernels()
    os._exit(128 + signum)


def _warm_up() -> None:
    """Import what a notebook run needs, compile the HTML templates and start the kernel
    forkserver (:mod:`pingan_eval.batch.kernels`), ahead of the jobs."""
    import nbformat
    import papermill  # noqa: F401

    from pingan_eval.batch.kernels import warm_up

    notebook_to_html(nbformat.v4.new_notebook(), title="")
    warm_up()


def _run_local(jobs: Sequence[NotebookJob], pool: ProcessPoolExecutor | None,
               on_done: Callable[[int, NotebookResult], None]) -> None:
    if pool is None:
        for i, job in enumerate(jobs):
            on_done(i, run_notebook(job))
        return
    futures = {pool.submit(run_notebook, job): i for i, job in enumerate(jobs)}
    for future in as_completed(futures):
        i = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # a worker process died: the others go on
            result = _crashed_result(jobs[i], exc)
        on_done(i, result)


def _run_dask(jobs: Sequence[NotebookJob], scheduler: str,
              on_done: Callable[[int, NotebookResult], None]) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError:
        raise ReportError("--scheduler needs the 'distributed' package: "
                          "pip install 'pingan-eval[dask]'") from None
    try:
        client = Client(scheduler, set_as_default=False, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ReportError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        futures = {client.submit(run_notebook, job, pure=False): i
                   for i, job in enumerate(jobs)}
        for future in dask_as_completed(list(futures), loop=client.loop):
            i = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the worker died or could not import the package
                result = _crashed_result(jobs[i], exc)
            on_done(i, result)


def _execute(jobs: Sequence[NotebookJob], *, pool: ProcessPoolExecutor | None,
             scheduler: str | None, progress: bool, period: str) -> list[NotebookResult]:
    from tqdm.auto import tqdm

    results: list[NotebookResult | None] = [None] * len(jobs)
    counts = {"ok": 0, "failed": 0}
    with tqdm(total=len(jobs), desc=f"batch {period}", unit="report", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:

        def on_done(i: int, result: NotebookResult) -> None:
            results[i] = result
            counts["ok" if result.status == "ok" else "failed"] += 1
            bar.set_postfix(done=counts["ok"], failed=counts["failed"], refresh=False)
            bar.update(1)

        if scheduler:
            _run_dask(jobs, scheduler, on_done)
        else:
            _run_local(jobs, pool, on_done)
    return [r for r in results if r is not None]


def user_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The users' summary: :data:`USER_COLUMNS` from a period summary table.

    Adds ``verdict_zh`` (达标 / 未达标 / 尚无定论, from :mod:`pingan_eval.labels`).
    """
    out = table.assign(verdict_zh=table["verdict"].map(lambda v: zh("verdict", v)))
    return out[list(USER_COLUMNS)].reset_index(drop=True)


def _csv_text(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, lineterminator="\n")


def _xlsx_bytes(table: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        table.to_excel(writer, index=False, sheet_name="summary")
    return reproducible_xlsx(buffer.getvalue())


_XLSX_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*")


def reproducible_xlsx(data: bytes) -> bytes:
    """The same workbook with fixed file times and document dates: equal tables, equal bytes.

    openpyxl stamps the zip entries and ``docProps/core.xml`` (created, modified) with
    the time of writing; the run's time is in ``manifest.json`` instead.
    """
    out = io.BytesIO()
    with (zipfile.ZipFile(io.BytesIO(data)) as src,
          zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst):
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _XLSX_DATES.sub(rb"\g<1>2000-01-01T00:00:00Z", body)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, body)
    return out.getvalue()


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
    """Output of a git command in the project folder; None without git or a repository."""
    try:
        out = subprocess.run(["git", "-C", str(paths.PROJ_ROOT), *args],
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _remove_stale_temporaries(folder: Path, min_age: float = 60.0) -> None:
    """Delete temporaries an interrupted run left (``.name.xxx.tmp``, see fileio).

    A temporary lives for the milliseconds of one write; one older than ``min_age``
    seconds is a leftover, a younger one may belong to a batch running right now.
    """
    if folder.is_dir():
        now = time.time()
        for tmp in folder.rglob(".*.tmp"):
            if tmp.is_file() and now - tmp.stat().st_mtime > min_age:
                tmp.unlink(missing_ok=True)


def _notebook_jobs(county: str, townships: Sequence[str], folder: Path,
                   common: dict[str, str | None], timeout: float, county_nb: Path,
                   township_nb: Path) -> list[NotebookJob]:
    """The county overview first, then one job per township."""
    period = common["period"]
    stems = report_filenames(townships)
    jobs = [NotebookJob(
        area=county, level="county", notebook=str(county_nb),
        ipynb_path=str(folder / "county.ipynb"), html_path=str(folder / "county.html"),
        parameters=common, timeout=timeout, title=f"{county} {period} 平安建设评估总览",
    )]
    jobs += [NotebookJob(
        area=t, level="township", notebook=str(township_nb),
        ipynb_path=str(folder / f"{stems[t]}.ipynb"), html_path=str(folder / f"{stems[t]}.html"),
        parameters={"township": t, **common}, timeout=timeout,
        title=f"{t} {period} 平安建设评估报告",
    ) for t in townships]
    return jobs


def _provenance(scheduler: str | None) -> dict[str, Any]:
    """Package versions and the git commit, for the manifest."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "packages": _package_versions(scheduler),
        "git_commit": _git("rev-parse", "HEAD") or None,
        # uncommitted changes to tracked files: the commit alone does not name the code
        "git_dirty": None if status is None else bool(status),
    }


def run_batch(
    period: str,
    *,
    townships: Sequence[str] | None = None,
    jobs: int | None = None,
    out_dir: str | os.PathLike = paths.REPORTS_DIR,
    raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
    processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
    plan: str | os.PathLike | None = None,
    timeout: float = 600,
    scheduler: str | None = None,
    progress: bool = True,
    township_notebook: str | os.PathLike | None = None,
    county_notebook: str | os.PathLike | None = None,
) -> BatchResult:
    """Render the period's township reports and county overview; write the index.

    Parameters
    ----------
    period : str
        ``YYYY-MM``, prepared with ``pingan-eval prepare``.
    townships : sequence of str, optional
        A subset of the plan's townships (default all). A name the plan does not know
        becomes a failed row; the others still run.
    jobs : int, optional
        Local worker processes (default: one per core, at most one per notebook).
        ``1`` runs the notebooks one after another in this process.
    out_dir : path
        Reports go to ``out_dir/<period>/``.
    raw_dir, processed_dir : path
        Raw dataset (registers, task logs) and ``prepare`` output.
    plan : path, optional
        Plan file (default: the shipped Qinghe plan).
    timeout : float
        Seconds before a notebook's kernel is killed (whole run, and any one cell).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``); the notebooks
        then run on its workers, which must see the same paths. Default: local
        processes, no Dask needed.
    progress : bool
        Show a tqdm progress bar on stderr (reports done, failed, time left).
    township_notebook, county_notebook : path, optional
        The notebooks to run (default ``notebooks/township_report.ipynb`` and
        ``notebooks/county_overview.ipynb``); each needs a ``parameters`` cell.

    Returns
    -------
    BatchResult
        Paths, the users' summary table and one :class:`NotebookResult` per report.

    Raises
    ------
    ReportError
        The period is malformed or not prepared (the message says to run
        ``pingan-eval prepare --period P``), or the Dask scheduler is unreachable.
    PlanError, DataError
        From the plan or the summary: nothing can run without them.

    Notes
    -----
    Each notebook gets the parameters ``township`` (not for the county), ``period``,
    ``raw_dir``, ``processed_dir``, ``plan_path``, ``summary_path``, ``trend_path``,
    ``breakdowns_path``, ``registers_dir`` (strings; papermill writes them as escaped
    Python literals, so any name is safe).
    ``trend_path`` holds :func:`~pingan_eval.summary.trend_summary` for up to twelve
    prepared months ending with ``period``.
    """
    from pingan_eval.data.prepare import load_design
    from pingan_eval.registers.judge import judge_registers, write_register_tables
    from pingan_eval.summary import period_summary, resolve_plan, trailing_periods, trend_summary
    from pingan_eval.survey.breakdowns import all_breakdowns

    t0 = time.perf_counter()
    start = datetime.now(timezone.utc).isoformat(timespec="seconds")
    raw_dir, processed_dir = Path(raw_dir).resolve(), Path(processed_dir).resolve()
    _check_inputs(period, processed_dir)
    if jobs is not None and jobs < 1:
        raise ReportError(f"jobs must be at least 1, got {jobs}")
    if not timeout > 0:
        raise ReportError(f"timeout must be a positive number of seconds, got {timeout}")
    plan_obj = resolve_plan(plan)
    wanted = list(plan_obj.townships) if townships is None else list(dict.fromkeys(townships))
    known = [t for t in wanted if t in plan_obj.townships]
    unknown = [t for t in wanted if t not in plan_obj.townships]
    township_nb = Path(township_notebook or paths.NOTEBOOKS_DIR / "township_report.ipynb")
    county_nb = Path(county_notebook or paths.NOTEBOOKS_DIR / "county_overview.ipynb")
    for nb in (township_nb, county_nb):
        if not nb.is_file():
            raise ReportError(f"{nb}: report notebook not found")

    folder = Path(out_dir).resolve() / period
    data_dir = folder / "_data"
    _remove_stale_temporaries(folder)

    n_jobs = max(1, min(jobs or os.cpu_count() or 1, 1 + len(known)))
    with worker_pool(1 if scheduler else n_jobs) as pool:
        t_est = time.perf_counter()
        registers = judge_registers(period, raw_dir=raw_dir, plan=plan_obj)
        table = period_summary(period, raw_dir=raw_dir, processed_dir=processed_dir,
                               plan=plan_obj, registers=registers)
        trend_periods = trailing_periods(period, _prepared_periods(raw_dir, processed_dir))
        trends = trend_summary(trend_periods, raw_dir=raw_dir, processed_dir=processed_dir,
                               plan=plan_obj)
        groups = all_breakdowns(load_design(period, processed_dir), plan=plan_obj)
        estimation_seconds = time.perf_counter() - t_est
        summary_path = atomic_write_text(data_dir / "summary.csv", _csv_text(table))
        trend_path = atomic_write_text(data_dir / "trends.csv", _csv_text(trends))
        breakdowns_path = atomic_write_text(data_dir / "breakdowns.csv", _csv_text(groups))
        registers_dir = write_register_tables(registers, data_dir / "registers")

        common = {"period": period, "raw_dir": str(raw_dir),
                  "processed_dir": str(processed_dir), "plan_path": plan_obj.path or None,
                  "summary_path": str(summary_path), "trend_path": str(trend_path),
                  "breakdowns_path": str(breakdowns_path), "registers_dir": str(registers_dir)}
        county = plan_obj.county
        job_list = _notebook_jobs(county, known, folder, common, timeout, county_nb,
                                  township_nb)
        results = _execute(job_list, pool=pool, scheduler=scheduler, progress=progress,
                           period=period)
    results += [_unknown_result(t, plan_obj.townships) for t in unknown]

    areas = {county, *known}
    summary = user_summary(table[table["area"].isin(areas)])
    atomic_write_text(folder / "summary.csv", "\ufeff" + _csv_text(summary))  # BOM: Excel
    atomic_write_bytes(folder / "summary.xlsx", _xlsx_bytes(summary))

    pages = {job.area: Path(job.html_path) for job in job_list}
    entries = [ReportEntry(r.area, r.level, r.status,
                           pages[r.area].name if r.area in pages and pages[r.area].is_file()
                           else None, r.error)
               for r in results]
    index_path = atomic_write_text(folder / "index.html", render_index(
        title=f"{county}平安建设评估", period=period, reports=entries, table=summary,
        measures={t.code: t.measure for t in plan_obj.entries},
        comparisons={t.code: t.comparison for t in plan_obj.entries}))

    duration = time.perf_counter() - t0
    files = {job.area: {"ipynb": Path(job.ipynb_path).name, "html": Path(job.html_path).name}
             for job in job_list}
    manifest = {
        "command": "pingan-eval batch",
        "status": "ok" if all(r.status == "ok" for r in results) else "failed",
        "failed": [r.area for r in results if r.status != "ok"],
        "start": start,
        "duration": round(duration, 3),
        "estimation_seconds": round(estimation_seconds, 3),
        "parameters": {
            "period": period, "townships": wanted, "jobs": n_jobs, "out": str(folder),
            "raw": str(raw_dir), "processed": str(processed_dir), "plan": plan_obj.path,
            "timeout": timeout, "scheduler": scheduler,
            "trend_periods": trend_periods,
        },
        "inputs": _input_hashes(trend_periods, raw_dir, processed_dir, plan_obj.path,
                                [county_nb, township_nb]),
        **_provenance(scheduler),
        "notebooks": [{**asdict(r), **files.get(r.area, {"ipynb": None, "html": None})}
                      for r in results],
    }
    manifest_path = atomic_write_text(
        folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return BatchResult(period=period, folder=folder, index_path=index_path,
                       manifest_path=manifest_path, summary=summary,
                       notebooks=tuple(results), duration=duration,
                       estimation_seconds=estimation_seconds)


def _describe(result: NotebookResult) -> str:
    error = result.error or {}
    where = f"cell {error['cell_index']}, " if error.get("cell_index") is not None else ""
    return f"{result.area}: {result.status} ({where}{error.get('ename')}: {error.get('evalue')})"


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main_batch(args: argparse.Namespace) -> int:
    """Run :func:`run_batch` from parsed ``pingan-eval batch`` arguments.

    Prints the path of ``index.html``; names every failed report on stderr. Returns 0
    when every report was written, 1 when some failed.
    """
    townships = None
    if args.townships:  # "A,B" or, typed on a Chinese keyboard, "A，B"
        townships = [t.strip() for t in re.split("[,，]", args.townships) if t.strip()]
    # SIGTERM (a scheduler or `kill` stopping the command) takes the Ctrl-C path, which
    # stops the worker processes instead of leaving them orphaned.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = run_batch(
            args.period, townships=townships, jobs=args.jobs, out_dir=args.out,
            raw_dir=args.raw, processed_dir=args.processed, plan=args.plan,
            timeout=args.timeout, scheduler=args.scheduler, progress=True,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    n = len(result.notebooks)
    print(f"{n - len(result.failed)}/{n} reports in {result.duration:.1f} s; "
          f"index: {result.index_path}")
    for failed in result.failed:
        print(f"pingan-eval batch: failed: {_describe(failed)}", file=sys.stderr)
    return 0 if result.ok else 1
