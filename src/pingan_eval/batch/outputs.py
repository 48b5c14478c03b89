"""The files a batch writes for its users: ``summary.csv``, ``summary.xlsx``, ``index.html``.

Every file is written atomically (:mod:`pingan_eval.fileio`), and equal inputs give equal
bytes: CSV with ``\\n`` line ends, the workbook without the time openpyxl stamps it with
(:func:`reproducible_xlsx`). :func:`remove_stale_temporaries` clears what an interrupted
run left in the output folder; :func:`check_writable` refuses, before anything runs, a
folder the batch could not write to; :func:`try_write` turns a file that cannot be
replaced at the end (on Windows: ``summary.xlsx`` open in Excel) into one line, so that
the other files are still written.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from pingan_eval.batch.notebook_run import NotebookJob, NotebookResult
from pingan_eval.errors import ReportError
from pingan_eval.fileio import atomic_write_bytes, atomic_write_text
from pingan_eval.labels import zh
from pingan_eval.plan import Plan
from pingan_eval.report.formatting import levels_basis_zh
from pingan_eval.report.index_page import ReportEntry, render_index
from pingan_eval.summary.official import official_rows

__all__ = ["USER_COLUMNS", "USER_FILES", "check_writable", "csv_text",
           "remove_stale_temporaries", "reproducible_xlsx", "try_write", "user_summary",
           "write_index", "write_user_summary"]

#: Columns of the users' ``summary.csv`` / ``summary.xlsx``, in order.
USER_COLUMNS = (
    "period", "area", "area_level", "indicator", "name_zh", "source",
    "estimator", "window_start", "official",
    "estimate", "ci_low", "ci_high", "n", "target", "verdict", "verdict_zh", "flag",
)
_ROW_KEYS = ["period", "area", "indicator", "estimator", "window_start"]

#: The files every batch replaces at its end, besides the reports.
USER_FILES = ("summary.csv", "summary.xlsx", "index.html", "manifest.json")

_XLSX_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*")


def user_summary(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The users' summary: :data:`USER_COLUMNS` from a period summary table.

    Adds ``official`` (True on the row whose verdict is the plan's official one for its
    area and target, :func:`pingan_eval.summary.official_rows`) and ``verdict_zh``
    (达标 / 未达标 / 尚无定论, from :mod:`pingan_eval.labels`).
    """
    chosen = official_rows(table, plan)[_ROW_KEYS].assign(official=True)
    out = table.merge(chosen, how="left", on=_ROW_KEYS, validate="one_to_one")
    out = out.assign(official=out["official"].eq(True),
                     verdict_zh=out["verdict"].map(lambda v: zh("verdict", v)))
    return out[list(USER_COLUMNS)].reset_index(drop=True)


def csv_text(table: pd.DataFrame) -> str:
    """The table as CSV text, no index, ``\\n`` line ends."""
    return table.to_csv(index=False, lineterminator="\n")


def _xlsx_bytes(table: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        table.to_excel(writer, index=False, sheet_name="summary")
    return reproducible_xlsx(buffer.getvalue())


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


def _is_locked(path: Path) -> bool:
    """Whether another program holds ``path`` so that it cannot be replaced.

    Windows refuses to replace a file another program has open (Excel keeps its workbook
    open); POSIX replaces it regardless, so only Windows is asked.
    """
    if os.name != "nt" or not path.is_file():
        return False
    try:
        with open(path, "r+b"):
            return False
    except PermissionError:
        return True


def check_writable(folder: Path) -> None:
    """Refuse, before the batch starts, an output folder it could not write to.

    Creates ``folder`` if needed and writes (and removes) a probe file in it; on Windows
    also refuses a file of :data:`USER_FILES` another program holds open.

    Raises
    ------
    ReportError
        One line naming the folder (or the file held open) and why.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ReportError(f"{folder}: the output folder is not writable "
                          f"({exc.strerror or exc}); choose another --out") from None
    for name in USER_FILES:
        if _is_locked(folder / name):
            raise ReportError(f"{folder / name}: open in another program (Excel?), so it "
                              "cannot be replaced; close it and run again")


def try_write(path: Path, write: Callable[[], object], unwritten: list[str]) -> bool:
    """Run ``write`` (which writes ``path``); on an :class:`OSError` add one line naming
    ``path`` to ``unwritten`` instead of raising. Whether it was written."""
    try:
        write()
    except OSError as exc:
        unwritten.append(f"{path}: not replaced ({exc.strerror or exc}; is it open in "
                         "another program?)")
        return False
    return True


def write_user_summary(folder: Path, summary: pd.DataFrame) -> list[str]:
    """``summary.csv`` (UTF-8 with a BOM, for Excel) and ``summary.xlsx`` in ``folder``.

    Each is written even if the other cannot be; returns one line per file not written
    (see :func:`try_write`).
    """
    unwritten: list[str] = []
    csv_path, xlsx_path = folder / "summary.csv", folder / "summary.xlsx"
    try_write(csv_path, lambda: atomic_write_text(csv_path, "\ufeff" + csv_text(summary)),
              unwritten)  # BOM: Excel
    try_write(xlsx_path, lambda: atomic_write_bytes(xlsx_path, _xlsx_bytes(summary)),
              unwritten)
    return unwritten


def write_index(folder: Path, *, county: str, period: str, jobs: Sequence[NotebookJob],
                results: Sequence[NotebookResult], summary: pd.DataFrame,
                plan: Plan, pages: Mapping[str, str] | None = None) -> Path:
    """``index.html``: a link to every report page written, run status and verdicts.

    ``summary`` is :func:`user_summary`; the index shows its official rows and says what
    each level's survey verdicts rest on. ``pages`` names the report page (in ``folder``)
    of results without a job in this run: areas kept from an earlier run.
    """
    official = summary[summary["official"]]
    pages = {**{area: folder / name for area, name in (pages or {}).items()},
             **{job.area: Path(job.html_path) for job in jobs}}
    entries = [ReportEntry(r.area, r.level, r.status,
                           pages[r.area].name if r.area in pages and _exists(pages[r.area])
                           else None, r.error)
               for r in results]
    return atomic_write_text(folder / "index.html", render_index(
        title=f"{county}平安建设评估", period=period, reports=entries, table=official,
        measures={t.code: t.measure for t in plan.entries},
        comparisons={t.code: t.comparison for t in plan.entries},
        basis=levels_basis_zh(official)))


def _exists(page: Path) -> bool:
    """Whether the report page was written; a name the file system refuses (too long)
    was not, and must not stop the index."""
    try:
        return page.is_file()
    except OSError:
        return False


def remove_stale_temporaries(folder: Path, min_age: float = 60.0) -> None:
    """Delete temporaries an interrupted run left (``.name.xxx.tmp``, see fileio).

    A temporary lives for the milliseconds of one write; one older than ``min_age``
    seconds is a leftover, a younger one may belong to a batch running right now.
    """
    if folder.is_dir():
        now = time.time()
        for tmp in folder.rglob(".*.tmp"):
            if tmp.is_file() and now - tmp.stat().st_mtime > min_age:
                tmp.unlink(missing_ok=True)
