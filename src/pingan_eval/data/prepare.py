"""``pingan-eval prepare``: a raw survey wave in, clean weighted respondents out.

For one period ``YYYY-MM`` this reads ``<raw>/survey/<period>.csv`` (``.xlsx``, ``.xls``; or
a survey export, one file or a folder ``survey/<period>/`` of them, through the dataset's
column map ``columns.toml``: :mod:`pingan_eval.data.column_map`) with the frame, census,
codebook and the wave's fieldwork counts, checks every row
(:mod:`pingan_eval.data.validation`), recodes answers into indicators
(:mod:`pingan_eval.data.codebook`), weights the kept respondents and writes
``<out>/<period>/`` in one atomic step:

``respondents.csv``
    Clean respondents (UTF-8): respondent_id, township, village, kind, household_id,
    interview_date, sex, age, age_group, ethnicity, household_adults, the five
    indicators (0/1, empty = NaN for "don't know"/refused), the three 0-100 scores,
    psu_total, base_weight, nr_weight, weight. Sorted by township, village,
    respondent_id. Never any personal-data column.
``rejected.csv``
    Every rejected row: ``source_row``, its original cells as text (personal-data
    columns removed; ``source_row`` finds the full row in the raw file), ``reasons``.
``margins.csv``
    The census margins the weights are raked to: township, margin, level, population.
``validation.json`` / ``validation.md``
    Counts (read = kept + rejected), every problem, problems per rule, input SHA-256,
    and the weighting summary (Kish design effect, weight range, raking).

Weights
-------
With village ``v`` of township ``h`` and household ``k``::

    base_weight = 1 / psu_prob_v                       (PSU inclusion, PPS within h; frame)
                * households_v / households_selected_v (household within village; fieldwork)
                * household_adults_k                   (one adult interviewed per household)
    nr_weight   = base_weight * households_selected_v / kept_v

``kept_v`` is the number of *kept* respondents of the village, i.e. the responding
households that reach the estimates. The fieldwork file's ``households_responded`` is
only compared with it (differences are listed in the report): a rejected interview is
treated like a non-response within its village, so the village's kept households carry
its selected households. ``weight`` is ``nr_weight`` raked (iterative proportional
fitting, as R's ``rake``) to each township's census totals of sex, age group and
ethnicity; ``--trim`` then optionally trims it.

The variance design is ``strata = township, psu = village``, with replacement and no fpc:
villages are drawn with probability proportional to size, for which the without-
replacement fpc ``1 - n/N`` is not the right correction; the with-replacement
(Hansen-Hurwitz) approximation is the standard, slightly conservative choice. R::

    d <- svydesign(ids = ~village, strata = ~township, weights = ~nr_weight, data = df)
    d <- rake(d, list(~township + sex, ~township + age_group, ~township + ethnicity),
              population.margins)

The weighting steps are :mod:`pingan_eval.data.wave_weights`; reading a prepared period
back is :mod:`pingan_eval.data.processed`. Their names used before are re-exported here.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pingan_eval import paths
from pingan_eval.data.codebook import Codebook, load_codebook
from pingan_eval.data.column_map import COLUMN_MAP_FILE, load_column_map
from pingan_eval.data.processed import RESPONDENT_COLUMNS
from pingan_eval.data.processed import load_design as load_design
from pingan_eval.data.processed import load_respondents as load_respondents
from pingan_eval.data.readers import (
    AGE_GROUPS,
    ROW,
    read_census,
    read_fieldwork,
    read_frame,
    read_table,
)
from pingan_eval.data.validation import (
    SURVEY_COLUMNS,
    dropped_columns,
    problem_records,
    rejected_rows,
    report_json,
    report_markdown,
    rule_counts,
    validate_wave,
    wave_columns,
)
from pingan_eval.data.wave_files import MappedWave, read_mapped_wave
from pingan_eval.data.wave_weights import COLLAPSE_SHARE as COLLAPSE_SHARE
from pingan_eval.data.wave_weights import RAKE_EPSILON as RAKE_EPSILON
from pingan_eval.data.wave_weights import (
    RAKE_MAX_ITER,
    collapse_empty_levels,
    design_weights,
    empty_township_notes,
    fieldwork_notes,
    rake_to_census,
    thin_township_notes,
    trim_to_median,
    weighting_summary,
)
from pingan_eval.errors import DataError, PinganEvalError, ValidationFailed
from pingan_eval.fileio import atomic_directory, sha256_file

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SUFFIXES = (".csv", ".xlsx", ".xls")


@dataclass(frozen=True)
class PrepareResult:
    """What :func:`prepare_period` wrote.

    Attributes
    ----------
    period : str
    folder : pathlib.Path
        ``<out>/<period>``.
    read, kept, rejected : int
        Survey rows read, kept and rejected (``read == kept + rejected``).
    kish_deff : float
        Kish's weighting design effect of the final weights, county-wide.
    report : dict
        The content of ``validation.json``.
    warnings : tuple of str
        The report's notes on townships this month cannot estimate on its own (no
        respondent; respondents in one village): ``pingan-eval prepare`` prints them.
    """

    period: str
    folder: Path
    read: int
    kept: int
    rejected: int
    kish_deff: float
    report: dict[str, Any]
    warnings: tuple[str, ...] = ()

    @property
    def validation_md(self) -> Path:
        """Path of the readable validation summary."""
        return self.folder / "validation.md"


def available_periods(raw_dir: str | Path = paths.SAMPLE_RAW_DIR) -> list[str]:
    """Periods with a survey wave under ``raw_dir/survey`` (``.csv``/``.xlsx``/``.xls``, or a
    ``<period>/`` folder of such files, read through the column map), sorted.

    Examples
    --------
    >>> import tempfile
    >>> raw = Path(tempfile.mkdtemp())
    >>> (raw / "survey").mkdir()
    >>> for f in ["2026-11.csv", "2026-10.xlsx", "notes.csv"]:
    ...     _ = (raw / "survey" / f).write_text("")
    >>> available_periods(raw)
    ['2026-10', '2026-11']
    """
    folder = Path(raw_dir) / "survey"
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir()
                   if p.suffix.lower() in _SUFFIXES and _PERIOD.match(p.stem)}
                  | {p.name for p in folder.iterdir()
                     if p.is_dir() and _PERIOD.match(p.name) and _wave_files(p)})


def _wave_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file()
                  and not p.name.startswith(("~$", ".")))


def survey_file(raw_dir: str | Path, period: str) -> Path:
    """The wave of ``period``: its file, or its folder ``survey/<period>/`` of export files
    (one per township, say); DataError if the period is malformed or unknown."""
    raw_dir = Path(raw_dir)
    folder = raw_dir / "survey"
    if not _PERIOD.match(str(period)):
        raise DataError(f"{folder}: unknown period {period!r}: periods are written YYYY-MM")
    found = sorted(p for p in folder.glob(f"{period}.*")
                   if p.suffix.lower() in _SUFFIXES and p.is_file())
    if (folder / period).is_dir() and _wave_files(folder / period):
        found.append(folder / period)
    if not found:
        have = ", ".join(available_periods(raw_dir)) or "none"
        raise DataError(f"{folder}: unknown period {period!r}: no {period}.csv, "
                        f".xlsx, .xls or {period}/ folder (available: {have})")
    if len(found) > 1:
        raise DataError(f"{folder}: period {period!r} has both {found[0].name} and "
                        f"{found[1].name}; keep one")
    return found[0]


def survey_files(raw_dir: str | Path, period: str) -> list[Path]:
    """The file(s) of ``period``'s wave: ``[survey/<period>.csv]`` (or .xlsx, .xls), or every
    ``.csv``/``.xlsx``/``.xls`` in ``survey/<period>/`` (sorted by name)."""
    found = survey_file(raw_dir, period)
    return _wave_files(found) if found.is_dir() else [found]


def _check_output(out_dir: Path, raw_dir: Path) -> None:
    out = out_dir.resolve()
    for raw in {raw_dir.resolve(), paths.RAW_DIR.resolve()}:
        if out == raw or raw in out.parents:
            raise DataError(f"{out_dir}: refusing to write under the raw data folder {raw}")


def _age_group(age: pd.Series) -> pd.Series:
    """Census age group of whole ages >= 18."""
    cut = pd.cut(age, [18, 35, 50, 65, math.inf], right=False, labels=list(AGE_GROUPS))
    return cut.astype(str)


def _respondents(kept: pd.DataFrame, frame: pd.DataFrame, fieldwork: pd.DataFrame,
                 codebook: Codebook) -> pd.DataFrame:
    """Typed respondents with indicators and base / non-response weights (no raking yet)."""
    df = kept[list(SURVEY_COLUMNS)].copy()
    df["age"] = pd.to_numeric(df["age"]).astype("int64")
    df["household_adults"] = pd.to_numeric(df["household_adults"]).astype("int64")
    df["interview_date"] = pd.to_datetime(df["interview_date"], format="%Y-%m-%d").dt.strftime(
        "%Y-%m-%d")
    df["age_group"] = _age_group(df["age"])
    df = df.join(codebook.recode(kept[codebook.columns]))
    fr = frame.set_index("village")
    df["kind"] = df["village"].map(fr["kind"])
    df["psu_total"] = df["village"].map(fr["psu_total"]).astype("int64")
    df["base_weight"], df["nr_weight"] = design_weights(df, frame, fieldwork)
    return df


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def prepare_period(period: str, raw_dir: str | Path = paths.SAMPLE_RAW_DIR,
                   out_dir: str | Path = paths.PROCESSED_DIR, *, max_rejected: float = 0.05,
                   trim: float | None = None) -> PrepareResult:
    """Validate, recode and weight one survey wave; write ``out_dir/<period>/`` atomically.

    Parameters
    ----------
    period : str
        ``YYYY-MM``.
    raw_dir : path-like
        Dataset folder (frame.csv, census.csv, codebook.csv, fieldwork/, survey/); read
        only.
    out_dir : path-like
        Processed data folder; ``out_dir/<period>/`` is replaced in one step.
    max_rejected : float
        Largest allowed share of rejected rows, in [0, 1].
    trim : float or None
        Trim raked weights above ``trim`` times their township's median
        (:func:`trim_to_median`, e.g. 3.5); None (default) does not trim. Trimmed weights
        no longer meet the census margins exactly.

    Returns
    -------
    PrepareResult

    Raises
    ------
    DataError
        Unknown period, a missing or unreadable file, a missing required column, a bad
        reference table (frame, census, codebook, fieldwork), ``out_dir`` under the raw
        folder. Nothing is written.
    ValidationFailed
        More than ``max_rejected`` of the rows are rejected. ``out_dir/<period>/`` is left
        as it was; the report and rejected rows go to ``out_dir/<period>.failed/``.
    CalibrationError
        A census margin cannot be met (names the township and level).

    Notes
    -----
    Weights, design and the R equivalent are in the module docstring. Every input file's
    SHA-256 is recorded, so an output can be traced to its exact inputs.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not 0 <= max_rejected <= 1:
        raise DataError(f"max_rejected must be in [0, 1], got {max_rejected}")
    _check_output(out_dir, raw_dir)
    wave = _read_wave(raw_dir, period)
    kept, rejected, report = _validate(wave, raw_dir, period, max_rejected)
    n_read, n_kept, n_rej = len(wave.rows), len(kept), len(rejected)
    if n_rej / n_read > max_rejected:
        report["status"] = "failed"
        failed = out_dir / f"{period}.failed"
        _write_failed(failed, rejected, report)
        raise ValidationFailed(
            f"{wave.inputs['survey']}: {n_rej} of {n_read} rows rejected "
            f"({n_rej / n_read:.1%}), above the limit {max_rejected:.1%}; previous output "
            f"kept; see {failed / 'validation.md'}")

    df, margins, report["weighting"], report["notes"], warnings = _weighted(kept, wave, trim)
    folder = out_dir / period
    _write_prepared(folder, df, rejected, margins, report)
    shutil.rmtree(out_dir / f"{period}.failed", ignore_errors=True)  # stale failure report
    return PrepareResult(period, folder, n_read, n_kept, n_rej,
                         report["weighting"]["kish_deff"], report, tuple(warnings))


@dataclass(frozen=True, eq=False)
class _Wave:
    """A survey wave and the reference tables it is checked and weighted against."""

    inputs: dict[str, Path]     # frame, census, codebook, fieldwork, survey (file or folder)
    frame: pd.DataFrame
    census: pd.DataFrame
    codebook: Codebook
    fieldwork: pd.DataFrame
    rows: pd.DataFrame          # the survey wave as text, indexed by source_row (or row key)
    hashed: tuple[Path, ...]    # every file read, in report order
    mapped: MappedWave | None = None  # read through the column map (columns.toml)


def _read_wave(raw_dir: Path, period: str) -> _Wave:
    """Read the period's survey file(s) and the reference tables; DataError on a bad one.

    Where the dataset folder has a column map (``columns.toml``) whose sources match the
    wave's files, they are read through it (:mod:`pingan_eval.data.column_map`); a wave
    folder ``survey/<period>/`` must be.
    """
    wave_path = survey_file(raw_dir, period)
    files = survey_files(raw_dir, period)
    inputs = {"frame": raw_dir / "frame.csv", "census": raw_dir / "census.csv",
              "codebook": raw_dir / "codebook.csv",
              "fieldwork": raw_dir / "fieldwork" / f"{period}.csv", "survey": wave_path}
    frame = read_frame(inputs["frame"])
    census = read_census(inputs["census"], frame["township"].unique())
    codebook = load_codebook(inputs["codebook"])
    fieldwork = read_fieldwork(inputs["fieldwork"], frame)
    hashed = [inputs[k] for k in ("frame", "census", "codebook", "fieldwork")]
    map_path = raw_dir / COLUMN_MAP_FILE
    column_map = load_column_map(map_path) if map_path.is_file() else None
    rel = [f.relative_to(raw_dir).as_posix() for f in files]
    mapped = None
    if column_map is not None and any(column_map.source_for(f) for f in rel):
        mapped = read_mapped_wave(files, column_map, raw_dir=raw_dir, codebook=codebook,
                                  period=period)
        rows = mapped.rows
        hashed += [*files, map_path]
    elif wave_path.is_dir():
        raise DataError(f"{wave_path}: a wave of several files is read through the column "
                        f"map: {map_path} needs a [[source]] whose files match them")
    else:
        # rows a stray quote merged are rejected (validation), the wave is not failed
        rows = read_table(wave_path, wave_columns(codebook), stray_quotes_fatal=False,
                          ambiguous_dates_fatal=False)
        hashed.append(wave_path)
    if rows.empty:
        raise DataError(f"{wave_path}: no data rows")
    return _Wave(inputs=inputs, frame=frame, census=census, codebook=codebook,
                 fieldwork=fieldwork, rows=rows, hashed=tuple(hashed), mapped=mapped)


def _validate(wave: _Wave, raw_dir: Path, period: str, max_rejected: float
              ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Check every row: the kept rows, the rejected rows, the validation report."""
    rows, mapped = wave.rows, wave.mapped
    file = wave.inputs["survey"].relative_to(raw_dir).as_posix()
    problems = validate_wave(rows, file=file, period=period, frame=wave.frame,
                             census=wave.census, fieldwork=wave.fieldwork,
                             codebook=wave.codebook)
    if mapped is not None:
        problems = mapped.combine(problems)
    rejected = rejected_rows(rows, problems, allowed=wave_columns(wave.codebook))
    dropped = dropped_columns(rows.columns, wave_columns(wave.codebook))
    kept = rows.loc[~rows.index.isin(problems["row"])]
    if mapped is not None:  # row keys -> each row's file and spreadsheet row
        problems = mapped.locate(problems)
        rejected[ROW] = mapped.labels(rejected[ROW])
        dropped = mapped.dropped
        if wave.inputs["survey"].is_dir():
            file += "/"
    n_read, n_kept, n_rej = len(rows), len(kept), len(rejected)
    assert n_kept + n_rej == n_read  # every row is kept or rejected, never dropped
    report: dict[str, Any] = {
        "period": period,
        "status": "ok",
        "survey_file": file,
        "encoding": rows.attrs["encoding"],
        "row_numbers": "as a spreadsheet shows them: header = row 1, one row per record",
        "counts": {"read": n_read, "kept": n_kept, "rejected": n_rej,
                   "rejected_share": n_rej / n_read},
        "blank_rows": rows.attrs["blank_rows"],
        "dates_normalized": rows.attrs["dates_normalized"],  # [{column, form, count}]
        "max_rejected": max_rejected,
        "rule_counts": rule_counts(problems),
        "problems": problem_records(problems),
        "personal_data_columns_dropped": dropped["personal"],  # names only, never values
        "other_columns_dropped": dropped["other"],
        "inputs": {p.relative_to(raw_dir).as_posix(): sha256_file(p) for p in wave.hashed},
    }
    if mapped is not None:
        report["column_map"] = mapped.report
    return kept, rejected, report


def _weighted(kept: pd.DataFrame, wave: _Wave, trim: float | None
              ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], list[str], list[str]]:
    """The respondents with their final weights, sorted; the margins raked to; the report's
    weighting summary and notes; the notes that are warnings."""
    df = _respondents(kept, wave.frame, wave.fieldwork, wave.codebook)
    margins, merged = collapse_empty_levels(df, wave.census)
    weights, rake = rake_to_census(df, margins)
    if trim is not None:
        weights = trim_to_median(weights, df["township"], trim)
    df["weight"] = weights
    df = df.sort_values(["township", "village", "respondent_id"], kind="stable")
    df = df[list(RESPONDENT_COLUMNS)].reset_index(drop=True)
    summary = weighting_summary(df, rake, trim)
    empty, thin = empty_township_notes(df, wave.census), thin_township_notes(df)
    notes = empty + merged + fieldwork_notes(df, wave.fieldwork) + thin
    if not rake["converged"]:
        notes.append(f"raking did not converge in {RAKE_MAX_ITER} iterations")
    return df, margins, summary, notes, empty + thin


def _write_reports(folder: Path, report: dict[str, Any]) -> None:
    (folder / "validation.json").write_text(report_json(report), encoding="utf-8")
    (folder / "validation.md").write_text(report_markdown(report), encoding="utf-8")


def _write_failed(failed: Path, rejected: pd.DataFrame, report: dict[str, Any]) -> None:
    """``<period>.failed/``: the rejected rows and the report, in one step."""
    with atomic_directory(failed) as tmp:
        _write_csv(rejected, tmp / "rejected.csv")
        _write_reports(tmp, report)


def _write_prepared(folder: Path, df: pd.DataFrame, rejected: pd.DataFrame,
                    margins: pd.DataFrame, report: dict[str, Any]) -> None:
    """``<period>/``: respondents, rejected rows, margins and the report, in one step."""
    with atomic_directory(folder) as tmp:
        _write_csv(df, tmp / "respondents.csv")
        _write_csv(rejected, tmp / "rejected.csv")
        _write_csv(margins, tmp / "margins.csv")
        _write_reports(tmp, report)


def main_prepare(args: argparse.Namespace) -> int:
    """Run ``pingan-eval prepare``: every requested period, one summary line each.

    Returns 0 when every period was prepared, 2 when any failed (the others still run;
    each failure is printed to stderr, and a last line lists the failed periods).
    """
    periods: list[str] = []
    for p in args.period:
        periods += available_periods(args.raw) if p == "all" else [p]
    if not periods:
        raise DataError(f"{Path(args.raw) / 'survey'}: no survey waves found")
    failed: list[str] = []
    for period in dict.fromkeys(periods):
        try:
            r = prepare_period(period, args.raw, args.out, max_rejected=args.max_rejected,
                               trim=args.trim)
        except PinganEvalError as exc:
            print(f"pingan-eval prepare: error: {period}: {exc}", file=sys.stderr)
            failed.append(period)
            continue
        print(f"{period}: read {r.read}, kept {r.kept}, rejected {r.rejected} "
              f"({r.rejected / r.read:.1%}); Kish deff {r.kish_deff:.2f}; {r.validation_md}")
        for note in r.warnings:
            print(f"pingan-eval prepare: warning: {period}: {note}", file=sys.stderr)
    if failed:
        print(f"pingan-eval prepare: failed: {', '.join(failed)}", file=sys.stderr)
    return 2 if failed else 0
