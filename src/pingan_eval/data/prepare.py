"""``pingan-eval prepare``: a raw survey wave in, clean weighted respondents out.

For one period ``YYYY-MM`` this reads ``<raw>/survey/<period>.csv`` (or ``.xlsx``) with
the frame, census, codebook and the wave's fieldwork counts, checks every row
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
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pingan_eval import paths
from pingan_eval.data.codebook import INDICATORS, SCORED, Codebook, load_codebook
from pingan_eval.data.readers import (
    AGE_GROUPS,
    MARGINS,
    read_census,
    read_fieldwork,
    read_frame,
    read_table,
)
from pingan_eval.data.validation import (
    PII_COLUMNS,
    SURVEY_COLUMNS,
    problem_records,
    rejected_rows,
    report_json,
    report_markdown,
    rule_counts,
    validate_wave,
)
from pingan_eval.errors import CalibrationError, DataError, PinganEvalError, ValidationFailed
from pingan_eval.fileio import atomic_directory, sha256_file
from pingan_eval.survey import calibration, weighting

#: Columns of ``respondents.csv``, in order (a contract with the report notebooks).
RESPONDENT_COLUMNS = (
    "respondent_id", "township", "village", "kind", "household_id", "interview_date", "sex",
    "age", "age_group", "ethnicity", "household_adults", *INDICATORS,
    *(f"{i}_score" for i in SCORED), "psu_total", "base_weight", "nr_weight", "weight",
)
_TEXT_COLUMNS = ("respondent_id", "township", "village", "kind", "household_id",
                 "interview_date", "sex", "age_group", "ethnicity")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

#: Raking settings (R ``rake`` defaults); stored in validation.json for :func:`load_design`.
RAKE_EPSILON = 1.0
RAKE_MAX_ITER = 10

#: A census level without respondents holding at most this share of its township's adults
#: is merged into the township's largest level (see :func:`collapse_empty_levels`).
COLLAPSE_SHARE = 0.05


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
    """

    period: str
    folder: Path
    read: int
    kept: int
    rejected: int
    kish_deff: float
    report: dict[str, Any]

    @property
    def validation_md(self) -> Path:
        """Path of the readable validation summary."""
        return self.folder / "validation.md"


def available_periods(raw_dir: str | Path = paths.SAMPLE_RAW_DIR) -> list[str]:
    """Periods with a survey wave under ``raw_dir/survey`` (``.csv`` or ``.xlsx``), sorted.

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
                   if p.suffix.lower() in (".csv", ".xlsx") and _PERIOD.match(p.stem)})


def survey_file(raw_dir: str | Path, period: str) -> Path:
    """The wave file of ``period``; DataError if the period is malformed or unknown."""
    raw_dir = Path(raw_dir)
    folder = raw_dir / "survey"
    if not _PERIOD.match(str(period)):
        raise DataError(f"{folder}: unknown period {period!r}: periods are written YYYY-MM")
    found = sorted(p for p in folder.glob(f"{period}.*")
                   if p.suffix.lower() in (".csv", ".xlsx") and p.is_file())
    if not found:
        have = ", ".join(available_periods(raw_dir)) or "none"
        raise DataError(f"{folder}: unknown period {period!r}: no {period}.csv or "
                        f"{period}.xlsx (available: {have})")
    if len(found) > 1:
        raise DataError(f"{folder}: period {period!r} has both {found[0].name} and "
                        f"{found[1].name}; keep one")
    return found[0]


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
    fw = fieldwork.set_index("village")
    df["kind"] = df["village"].map(fr["kind"])
    df["psu_total"] = df["village"].map(fr["psu_total"]).astype("int64")
    selected = df["village"].map(fw["households_selected"])
    df["base_weight"] = (1.0 / df["village"].map(fr["psu_prob"])
                         * df["village"].map(fr["households"]) / selected
                         * df["household_adults"])
    kept_v = df.groupby("village")["village"].transform("size")
    df["nr_weight"] = df["base_weight"] * selected / kept_v
    return df


def collapse_empty_levels(df: pd.DataFrame, census: pd.DataFrame,
                          max_share: float = COLLAPSE_SHARE) -> tuple[pd.DataFrame, list[str]]:
    """Merge small census levels that have no respondent into the township's largest level.

    Parameters
    ----------
    df : pandas.DataFrame
        Kept respondents with township, sex, age_group, ethnicity.
    census : pandas.DataFrame
        From :func:`pingan_eval.data.readers.read_census`.
    max_share : float
        Largest share of the township's adults an empty level may hold to be merged.

    Returns
    -------
    margins : pandas.DataFrame
        ``census`` with each merged level's population moved to the largest level of the
        same township and margin that has respondents (the merged level keeps population
        0, which raking ignores).
    notes : list of str
        One line per merge, for the validation report.

    Raises
    ------
    CalibrationError
        A level with population but no kept respondent holds more than ``max_share`` of
        its township: the margin cannot be met (names township, margin and level).

    Examples
    --------
    >>> census = pd.DataFrame({"township": ["A"] * 3, "margin": ["ethnicity"] * 3,
    ...                        "level": ["哈萨克族", "汉族", "蒙古族"],
    ...                        "population": [900.0, 80.0, 20.0]})
    >>> df = pd.DataFrame({"township": ["A", "A"], "ethnicity": ["哈萨克族", "汉族"]})
    >>> m, notes = collapse_empty_levels(df, census)
    >>> m["population"].tolist()
    [920.0, 80.0, 0.0]
    >>> print(notes[0])
    A: ethnicity 蒙古族 (population 20, 2.0%) has no respondent; merged into 哈萨克族
    """
    out = census.copy()
    notes = []
    seen = {m: set(zip(df["township"], df[m], strict=True)) for m in set(census["margin"])}
    for (town, margin), g in census.groupby(["township", "margin"], sort=False):
        present = {lv for lv in g["level"] if (town, lv) in seen[margin]}
        total = g["population"].sum()
        empty = g[(g["population"] > 0) & ~g["level"].isin(present)]
        if empty.empty:
            continue
        share = empty["population"] / total
        have = g[g["level"].isin(present) & (g["population"] > 0)]
        if (share > max_share).any() or have.empty:
            i = share.idxmax()
            raise CalibrationError(
                f"township {town!r}, {margin} {g.loc[i, 'level']!r}: census population "
                f"{g.loc[i, 'population']:g} ({share[i]:.1%} of the township) but no kept "
                "respondent; the margin cannot be met")
        target = have.sort_values(["population", "level"], ascending=[False, True]).index[0]
        out.loc[target, "population"] += empty["population"].sum()
        out.loc[empty.index, "population"] = 0.0
        notes += [f"{town}: {margin} {lv} (population {p:g}, {s:.1%}) has no respondent; "
                  f"merged into {g.loc[target, 'level']}"
                  for lv, p, s in zip(empty["level"], empty["population"], share, strict=True)]
    return out, notes


def _rake(df: pd.DataFrame, census: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """Raked weights and the raking facts (iterations, converged)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", calibration.RakeConvergenceWarning)  # reported instead
        r = calibration.rake(df, df["nr_weight"].to_numpy(), _margins(census),
                             epsilon=RAKE_EPSILON, max_iter=RAKE_MAX_ITER)
    return np.asarray(r.weights, dtype=float), {"iterations": r.iterations,
                                                "converged": r.converged}


def _margins(census: pd.DataFrame) -> dict:
    """``{("township", margin): {(township, level): population}}``, sex, age_group, ethnicity."""
    return calibration.census_margins(census, by="township", margins=MARGINS)


def trim_to_median(weights: np.ndarray, township: pd.Series, factor: float) -> np.ndarray:
    """Trim weights above ``factor`` times their township's median weight.

    Each township's weight total is kept (:func:`pingan_eval.survey.weighting.trim_weights` with
    ``by=township``; R: ``trimWeights(design, upper, strict = TRUE)`` within township).

    Examples
    --------
    >>> w = np.array([1.0, 1.0, 1.0, 7.0, 2.0, 2.0])
    >>> trim_to_median(w, pd.Series(list("AAAABB")), 3.0).round(3).tolist()
    [2.333, 2.333, 2.333, 3.0, 2.0, 2.0]
    """
    if not factor > 1:
        raise DataError(f"trim factor must be above 1 (a multiple of the median), got {factor}")
    median = pd.Series(weights, index=township.index).groupby(township).transform("median")
    return np.asarray(weighting.trim_weights(weights, upper=factor * median.to_numpy(),
                                             by=township.to_numpy()), dtype=float)


def _weighting_summary(df: pd.DataFrame, rake: dict[str, Any], trim: float | None) -> dict:
    overall = weighting.weight_summary(df["weight"])
    towns = []
    for town, g in df.groupby("township", sort=True):
        t = weighting.weight_summary(g["weight"])
        towns.append({"township": town, "n": t["n"], "kish_deff": t["kish_deff"],
                      "weight_min": t["min"], "weight_max": t["max"], "weight_sum": t["sum"]})
    return {
        "design": "strata=township, psu=village (with replacement, no fpc); weights raked to "
                  "census sex, age_group, ethnicity within township",
        "formula": "base_weight = households/(psu_prob*households_selected) * household_adults;"
                   " nr_weight = base_weight * households_selected / kept respondents in village;"
                   " weight = rake(nr_weight)",
        "kish_deff": overall["kish_deff"], "weight_min": overall["min"],
        "weight_max": overall["max"], "weight_sum": overall["sum"],
        "rake_epsilon": RAKE_EPSILON, "rake_max_iter": RAKE_MAX_ITER,
        "rake_iterations": rake["iterations"], "rake_converged": rake["converged"],
        "trim": trim, "townships": towns,
    }


def _fieldwork_notes(df: pd.DataFrame, fieldwork: pd.DataFrame) -> list[str]:
    kept = df.groupby("village").size()
    notes = []
    for town, village, resp in zip(fieldwork["township"], fieldwork["village"],
                                   fieldwork["households_responded"], strict=True):
        n = int(kept.get(village, 0))
        if n != resp:
            notes.append(f"{town} {village}: fieldwork households_responded {resp:g}, kept "
                         f"respondents {n}; the non-response adjustment uses {n}"
                         + (" (village carries no weight)" if n == 0 else ""))
    return notes


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
        (:func:`trim_to_median`,
        e.g. 3.5); None (default) does not trim. Trimmed weights no longer meet the
        census margins exactly.

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
    wave_path = survey_file(raw_dir, period)
    inputs = {"frame": raw_dir / "frame.csv", "census": raw_dir / "census.csv",
              "codebook": raw_dir / "codebook.csv",
              "fieldwork": raw_dir / "fieldwork" / f"{period}.csv", "survey": wave_path}
    frame = read_frame(inputs["frame"])
    census = read_census(inputs["census"], frame["township"].unique())
    codebook = load_codebook(inputs["codebook"])
    fieldwork = read_fieldwork(inputs["fieldwork"], frame)
    wave = read_table(wave_path, [*SURVEY_COLUMNS, *codebook.columns])
    if wave.empty:
        raise DataError(f"{wave_path}: no data rows")
    file = wave_path.relative_to(raw_dir).as_posix()
    problems = validate_wave(wave, file=file, period=period, frame=frame, census=census,
                             fieldwork=fieldwork, codebook=codebook)
    rejected = rejected_rows(wave, problems)
    kept = wave.loc[~wave.index.isin(problems["row"])]
    n_read, n_kept, n_rej = len(wave), len(kept), len(rejected)
    assert n_kept + n_rej == n_read  # every row is kept or rejected, never dropped
    report: dict[str, Any] = {
        "period": period,
        "status": "ok",
        "survey_file": file,
        "encoding": wave.attrs["encoding"],
        "row_numbers": "as a spreadsheet shows them: file line number, header = row 1",
        "counts": {"read": n_read, "kept": n_kept, "rejected": n_rej,
                   "rejected_share": n_rej / n_read},
        "blank_rows": wave.attrs["blank_rows"],
        "max_rejected": max_rejected,
        "rule_counts": rule_counts(problems),
        "problems": problem_records(problems),
        "personal_data_columns_dropped": sorted(set(PII_COLUMNS) & set(wave.columns)),
        "inputs": {p.relative_to(raw_dir).as_posix(): sha256_file(p) for p in inputs.values()},
    }
    if n_rej / n_read > max_rejected:
        report["status"] = "failed"
        failed = out_dir / f"{period}.failed"
        with atomic_directory(failed) as tmp:
            _write_csv(rejected, tmp / "rejected.csv")
            (tmp / "validation.json").write_text(report_json(report), encoding="utf-8")
            (tmp / "validation.md").write_text(report_markdown(report), encoding="utf-8")
        raise ValidationFailed(
            f"{wave_path}: {n_rej} of {n_read} rows rejected ({n_rej / n_read:.1%}), above "
            f"the limit {max_rejected:.1%}; previous output kept; see {failed / 'validation.md'}")

    df = _respondents(kept, frame, fieldwork, codebook)
    margins, merged = collapse_empty_levels(df, census)
    weights, rake = _rake(df, margins)
    if trim is not None:
        weights = trim_to_median(weights, df["township"], trim)
    df["weight"] = weights
    df = df.sort_values(["township", "village", "respondent_id"], kind="stable")
    df = df[list(RESPONDENT_COLUMNS)].reset_index(drop=True)
    report["weighting"] = _weighting_summary(df, rake, trim)
    report["notes"] = merged + _fieldwork_notes(df, fieldwork)
    if not rake["converged"]:
        report["notes"].append(f"raking did not converge in {RAKE_MAX_ITER} iterations")

    folder = out_dir / period
    with atomic_directory(folder) as tmp:
        _write_csv(df, tmp / "respondents.csv")
        _write_csv(rejected, tmp / "rejected.csv")
        _write_csv(margins, tmp / "margins.csv")
        (tmp / "validation.json").write_text(report_json(report), encoding="utf-8")
        (tmp / "validation.md").write_text(report_markdown(report), encoding="utf-8")
    shutil.rmtree(out_dir / f"{period}.failed", ignore_errors=True)  # stale failure report
    return PrepareResult(period, folder, n_read, n_kept, n_rej,
                         report["weighting"]["kish_deff"], report)


def _processed(period: str, processed_dir: str | Path, name: str) -> Path:
    path = Path(processed_dir) / period / name
    if not path.is_file():
        raise DataError(f"{path}: not found; run `pingan-eval prepare --period {period}`")
    return path


def load_respondents(period: str, processed_dir: str | Path = paths.PROCESSED_DIR
                     ) -> pd.DataFrame:
    """Read ``respondents.csv`` of a prepared period with its documented types.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESPONDENT_COLUMNS`: text columns as str, age and
        household_adults and psu_total as int64, indicators, scores and weights float64
        (NaN where missing).

    Raises
    ------
    DataError
        If the period has not been prepared in ``processed_dir``.
    """
    path = _processed(period, processed_dir, "respondents.csv")
    dtypes = {c: str for c in _TEXT_COLUMNS}
    dtypes.update(age="int64", household_adults="int64", psu_total="int64")
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={
        c: [""] for c in RESPONDENT_COLUMNS if c not in _TEXT_COLUMNS})
    return df[list(RESPONDENT_COLUMNS)]


def load_design(period: str, processed_dir: str | Path = paths.PROCESSED_DIR) -> Any:
    """The calibrated survey design of a prepared period.

    Re-rakes ``nr_weight`` to the stored ``margins.csv`` (so variances account for the
    calibration, as R's ``rake`` does) and checks that the result equals the stored
    ``weight`` column.

    Returns
    -------
    SurveyDesign
        ``strata="township", psu="village"``, raked weights, over
        :func:`load_respondents`.

    Raises
    ------
    DataError
        If the period has not been prepared, or the re-raked weights differ from the
        stored ones (the folder was edited by hand).
    """
    from pingan_eval.survey.design import SurveyDesign

    df = load_respondents(period, processed_dir)
    margins = pd.read_csv(_processed(period, processed_dir, "margins.csv"),
                          dtype={"township": str, "margin": str, "level": str})
    report = json.loads(_processed(period, processed_dir, "validation.json").read_text(
        encoding="utf-8"))
    w = report["weighting"]
    d = SurveyDesign(df, strata="township", psu="village", weights="nr_weight")
    d = d.rake(_margins(margins), epsilon=w["rake_epsilon"], max_iter=w["rake_max_iter"])
    if w["trim"] is not None:
        d = d._evolve(weights=trim_to_median(np.asarray(d.weights), df["township"], w["trim"]))
    if not np.allclose(d.weights, df["weight"].to_numpy(), rtol=1e-9, atol=0):
        raise DataError(f"{Path(processed_dir) / period}: stored weights differ from the "
                        "re-raked nr_weight; prepare the period again")
    return d


def main_prepare(args: argparse.Namespace) -> int:
    """Run ``pingan-eval prepare``: every requested period, one summary line each.

    Returns 0 when every period was prepared, 2 when any failed (the others still run;
    each failure is printed to stderr).
    """
    periods: list[str] = []
    for p in args.period:
        periods += available_periods(args.raw) if p == "all" else [p]
    if not periods:
        raise DataError(f"{Path(args.raw) / 'survey'}: no survey waves found")
    status = 0
    for period in dict.fromkeys(periods):
        try:
            r = prepare_period(period, args.raw, args.out, max_rejected=args.max_rejected,
                               trim=args.trim)
        except PinganEvalError as exc:
            print(f"pingan-eval prepare: error: {period}: {exc}", file=sys.stderr)
            status = 2
            continue
        print(f"{period}: read {r.read}, kept {r.kept}, rejected {r.rejected} "
              f"({r.rejected / r.read:.1%}); Kish deff {r.kish_deff:.2f}; {r.validation_md}")
    return status
