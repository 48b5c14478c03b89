"""One long table per period: every area x indicator with its estimate and verdict.

:func:`period_summary` is what reports read. It computes the survey estimates once for
all townships (``by="township"``) and once for the county, judges them against the plan,
flags unreliable ones, and appends the register indicators (safe-cell naming rates,
structural targets, campaign tasks) where the registers exist. :func:`trend_summary`
stacks the survey part over several months for the trend charts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pingan_eval import paths
from pingan_eval.errors import ReportError
from pingan_eval.periods import trailing_periods
from pingan_eval.plan import Plan, load_plan

if TYPE_CHECKING:
    from pingan_eval.registers.judge import RegisterTables

__all__ = [
    "SUMMARY_COLUMNS",
    "ensure_prepared",
    "period_summary",
    "read_summary",
    "resolve_plan",
    "trailing_periods",
    "trend_summary",
]

#: The columns of :func:`period_summary`, in order.
SUMMARY_COLUMNS = (
    "period", "area", "area_level", "indicator", "name_zh", "source",
    "estimator", "window_start", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff",
    "target", "verdict", "flag", "flag_reason",
)
_STATS = ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "target")
_TEXT = tuple(c for c in SUMMARY_COLUMNS if c not in _STATS)
#: Row order of the estimators of one area and indicator.
_ESTIMATOR_ORDER = {"direct": 0, "pooled": 1, "model": 2}


def resolve_plan(plan: Plan | str | os.PathLike | None) -> Plan:
    """A :class:`~pingan_eval.plan.Plan` from a plan, a plan file, or ``None`` (shipped plan).

    Examples
    --------
    >>> resolve_plan(None).county
    '青河县'
    """
    return plan if isinstance(plan, Plan) else load_plan(plan)


def period_summary(
    period: str,
    *,
    raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
    processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
    plan: Plan | str | os.PathLike | None = None,
    registers: RegisterTables | None = None,
) -> pd.DataFrame:
    """Every indicator of the plan for the county and each township, for one month.

    Each survey target has a row per estimator: the month's direct design-based
    estimate, the pooled windows of the plan (``plan.estimation.pooled_windows``:
    quarter to date and year to date by default) and, for townships, the
    township-by-month model fitted on the plan year's months up to ``period`` (so the
    figures of a month never change when later waves arrive). Which one gives the
    official verdict is the plan's choice: :func:`pingan_eval.summary.official_rows`.

    Parameters
    ----------
    period : str
        ``YYYY-MM``; its survey wave must have been prepared into `processed_dir`.
    raw_dir : path
        Raw dataset folder (registers and task logs are read from it).
    processed_dir : path
        Folder of ``pingan-eval prepare`` output.
    plan : Plan, path or None
        The plan (targets, townships, order); ``None`` reads the shipped plan.
    registers : RegisterTables, optional
        The registers of ``raw_dir`` already judged for ``period``
        (:func:`pingan_eval.registers.judge.judge_registers`; the batch judges them once for
        the summary and the reports); default: judge them here.

    Returns
    -------
    pandas.DataFrame
        One row per area x indicator with exactly the columns :data:`SUMMARY_COLUMNS`:

        - ``period``; ``area`` (county, township or department name); ``area_level``
          (``county``, ``township`` or ``department``: the campaign tasks a county
          department answers for, :func:`pingan_eval.summary.departments.department_rows`);
          ``indicator`` (the plan's target code: ``awareness``, ``cell_family``,
          ``visits``, ...); ``name_zh``; ``source`` (``survey``,
          ``register``, ``structural`` or ``task``);
        - ``estimator``: ``direct`` (the month's design-based estimate; every register
          row), ``pooled`` (the months from ``window_start`` to ``period`` stacked) or
          ``model`` (the township-by-month model); ``window_start`` (``YYYY-MM``, the
          first month the row covers: ``period`` itself for direct and model rows);
        - ``estimate, se, ci_low, ci_high, df, n, deff``: the survey core's estimate
          (a proportion). Register rows carry the rate (or count) as ``estimate`` and
          the denominator as ``n``; they are complete counts, so ``se, ci_low,
          ci_high, df, deff`` are NaN;
        - ``target`` (the threshold), ``verdict`` (``met``, ``not_met``, ``undecided``;
          registers may also say ``not_due``), ``flag`` (``ok``, ``review``,
          ``suppress``) and ``flag_reason``.

        Sorted: the county first, then the townships, then the departments, in plan
        order; within an area the indicators in plan order (survey, safe cells,
        structural, tasks); within an indicator direct, pooled (shortest window first), model.

    Raises
    ------
    DataError
        The period was not prepared (from :func:`pingan_eval.data.prepare.load_design`).

    Notes
    -----
    Survey rows: ``design.proportion(code, by="township")`` and
    ``design.proportion(code)`` with the default logit interval (R's
    ``svyciprop(~I(code == 1), design, method = "logit")``), then
    :func:`pingan_eval.survey.reliability` and :func:`pingan_eval.survey.targets.evaluate` with the
    plan's threshold. The county row of a survey indicator is the whole-design estimate,
    not an average of the township rows; a township without any respondent this month
    (its census margins were left out of the raking by ``prepare``) has direct rows with
    a NaN estimate, ``flag = "suppress"`` (``no_estimate``) and verdict ``undecided``, and
    the county estimate covers the other townships. Pooled and model rows:
    :func:`pingan_eval.summary.borrowing.borrowed_rows`.
    """
    plan = resolve_plan(plan)
    survey = survey_summary(period, raw_dir=raw_dir, processed_dir=processed_dir, plan=plan)
    return with_register_rows(survey, period, raw_dir=raw_dir, plan=plan, registers=registers)


def survey_summary(period: str, *, raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                   processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
                   plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """The survey rows of :func:`period_summary` (direct, pooled and model), sorted alike.

    With :func:`with_register_rows` it is :func:`period_summary` in two steps, so that a
    batch can judge the registers in another process meanwhile.
    """
    from pingan_eval.summary.borrowing import borrowed_rows, prepared_periods

    plan = resolve_plan(plan)
    parts = [_survey_rows(period, processed_dir, plan)]
    available = sorted({*prepared_periods(raw_dir, processed_dir), period})
    parts.append(borrowed_rows([period], available, processed_dir, plan))
    return _finish(pd.concat([p for p in parts if len(p)], ignore_index=True), plan)


def with_register_rows(survey: pd.DataFrame, period: str, *,
                       raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                       plan: Plan | str | os.PathLike | None = None,
                       registers: RegisterTables | None = None) -> pd.DataFrame:
    """``survey`` (:func:`survey_summary`) with the register, structural, task and
    department rows of ``period`` added: :func:`period_summary`'s table."""
    plan = resolve_plan(plan)
    parts = [survey, *_register_rows(period, Path(raw_dir), plan, registers)]
    return _finish(pd.concat([p for p in parts if len(p)], ignore_index=True), plan)


def trend_summary(
    periods: Sequence[str],
    *,
    raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
    processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
    plan: Plan | str | os.PathLike | None = None,
) -> pd.DataFrame:
    """The survey rows of :func:`period_summary` for several months: direct, the first
    pooling window's (the official one when townships are pooled) and the model's.

    Each month's rows are those its report shows (a model fitted on its year's months up
    to it, a window ending with it), so a trend line is what was published.

    Parameters
    ----------
    periods : sequence of str
        ``YYYY-MM`` months, each prepared into `processed_dir` (see
        :func:`trailing_periods` for the twelve months up to a period).
    raw_dir, processed_dir, plan
        As in :func:`period_summary` (`raw_dir` is unused: trends are survey-only).

    Returns
    -------
    pandas.DataFrame
        The columns :data:`SUMMARY_COLUMNS`, survey indicators only (pooled rows of the
        first window only), sorted by period, then as :func:`period_summary`.
    """
    from pingan_eval.summary.borrowing import borrowed_rows, prepared_periods

    plan = resolve_plan(plan)
    months = sorted(set(periods))
    frames = [_survey_rows(p, processed_dir, plan) for p in months]
    if months:
        available = sorted({*prepared_periods(raw_dir, processed_dir), *months})
        frames.append(borrowed_rows(months, available, processed_dir, plan,
                                    windows=plan.estimation.pooled_windows[:1]))
    frames = [f for f in frames if len(f)]
    if not frames:
        return _finish(pd.DataFrame(columns=list(SUMMARY_COLUMNS)), plan)
    return _finish(pd.concat(frames, ignore_index=True), plan)


def ensure_prepared(
    raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
    processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
    periods: Sequence[str] | None = None,
) -> list[str]:
    """Prepare the survey waves that have no processed data yet; return the prepared months.

    A fresh clone has ``data/raw/sample`` but no ``data/processed`` (it is generated):
    this lets a report notebook opened in JupyterLab, and the test session, run on the
    shipped sample without a manual ``pingan-eval prepare --period all`` first. Waves
    already prepared are left untouched.

    Parameters
    ----------
    raw_dir, processed_dir : path
        Dataset folder and processed folder.
    periods : sequence of str, optional
        Months to make sure of; default every wave under ``raw_dir/survey``.

    Returns
    -------
    list of str
        Every month of `periods` (default: of `raw_dir`) that is now prepared, sorted.

    Raises
    ------
    DataError, ValidationFailed, CalibrationError
        From :func:`pingan_eval.data.prepare.prepare_period` for a wave that cannot be prepared.
    """
    from pingan_eval.data.prepare import available_periods, prepare_period

    months = sorted(set(available_periods(raw_dir) if periods is None else periods))
    for month in months:
        if not (Path(processed_dir) / month / "validation.json").is_file():
            prepare_period(month, raw_dir, processed_dir)
    return months


def read_summary(path: str | os.PathLike) -> pd.DataFrame:
    """Read a summary table written as CSV (e.g. by ``pingan-eval batch``).

    Parameters
    ----------
    path : path
        A UTF-8 CSV of :func:`period_summary` or :func:`trend_summary` output (as
        ``DataFrame.to_csv(index=False)`` writes it). Extra columns are dropped.

    Returns
    -------
    pandas.DataFrame
        Exactly :data:`SUMMARY_COLUMNS`, in that order: text columns as text (a period
        stays ``"2026-11"``, a township named "NA" stays a name), the statistics as
        floats, an empty ``flag_reason`` as ``""``. Written and read back, a summary
        compares equal to the original.

    Raises
    ------
    ReportError
        A column is missing (the message names it).
    """
    table = pd.read_csv(path, dtype={"period": str, "area": str, "indicator": str,
                                     "window_start": str},
                        keep_default_na=False, na_values=[""], encoding="utf-8")
    if "estimator" not in table.columns and "window_start" not in table.columns:
        # A summary written before the estimators: every row was the month's own.
        table = table.assign(estimator="direct", window_start=table["period"])
    missing = [c for c in SUMMARY_COLUMNS if c not in table.columns]
    if missing:
        raise ReportError(f"{path}: not a summary table; missing column(s) {missing}")
    for col in _STATS:
        table[col] = pd.to_numeric(table[col], errors="raise").astype(float)
    table["flag_reason"] = table["flag_reason"].fillna("")
    for col in _TEXT:
        table[col] = table[col].astype(str)
    return table[list(SUMMARY_COLUMNS)]


def _survey_rows(period: str, processed_dir: str | os.PathLike, plan: Plan) -> pd.DataFrame:
    """County and township estimates of every survey target, judged and flagged."""
    from pingan_eval.data.prepare import load_design  # lazy: prepare pulls in the readers
    from pingan_eval.survey.reliability import reliability
    from pingan_eval.survey.targets import evaluate

    design = load_design(period, processed_dir, lonely_psu=plan.estimation.lonely_psu)
    frames = []
    for target in plan.survey:
        county = design.proportion(target.code).assign(area=plan.county, area_level="county")
        towns = (design.proportion(target.code, by="township")
                 .rename(columns={"township": "area"}).assign(area_level="township"))
        both = pd.concat([county, towns, _absent_towns(towns, plan)], ignore_index=True)
        both = evaluate(reliability(both), target.threshold)
        frames.append(both.assign(indicator=target.code, name_zh=target.name_zh,
                                  source="survey"))
    out = pd.concat(frames, ignore_index=True)
    return out.assign(period=period, estimator="direct", window_start=period)


def _absent_towns(towns: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Rows for the plan townships without any respondent this month (none in the design).

    Estimate and interval NaN, ``n`` and ``df`` 0: :func:`pingan_eval.survey.reliability`
    suppresses them (``no_estimate``) and the verdict is ``undecided``.
    """
    present = set(towns["area"])
    missing = [t for t in plan.townships if t not in present]
    return pd.DataFrame({"area": missing, "area_level": "township", "estimate": np.nan,
                         "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "df": 0.0,
                         "n": 0.0, "deff": np.nan})


def _register_rows(period: str, raw_dir: Path, plan: Plan,
                   registers: RegisterTables | None) -> list[pd.DataFrame]:
    """Safe-cell, structural and task rows as of the end of ``period``, where data exist."""
    from pingan_eval.registers.judge import judge_registers

    if registers is None:
        registers = judge_registers(period, raw_dir=raw_dir, plan=plan)
    parts: list[pd.DataFrame] = []
    if registers.has_register:
        rates = registers.naming_rates
        parts.append(_from_register(rates.assign(
            area=rates["township"], indicator="cell_" + rates["category"],
            estimate=rates["rate"], n=rates["eligible"], source="register"), plan))
        structural = registers.structural
        parts.append(_from_register(structural.assign(
            area=plan.county, indicator=structural["code"], estimate=structural["value"],
            n=structural["denominator"], source="structural"), plan))
    if not registers.tasks.empty:
        parts.append(_from_register(_task_rows(registers.tasks, plan), plan))
    if not registers.task_status.empty:  # the tasks by department (registers.ledger)
        from pingan_eval.summary.departments import department_rows

        parts.append(department_rows(registers.task_status, plan))
    return [p.assign(period=period, estimator="direct", window_start=period) for p in parts]


def _task_rows(done: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """One row per task x area from :func:`pingan_eval.registers.tasks.task_completion`.

    A task kept once per township gives its completion ``min(achieved / required, 1)``;
    a task kept per village or per month gives the share of villages (months) that met
    it. Either way the target is 1 (all done) and the verdict is the worst of the rows:
    ``not_met`` if any, else ``undecided`` if any, else ``met``. Month tasks without a
    township are county rows.
    """
    rows = []
    done = done.assign(area=done["township"].replace("", plan.county))
    for (code, area), g in done.groupby(["code", "area"], sort=False):
        if len(g) == 1:
            r = g.iloc[0]
            value = min(r["achieved"] / r["required"], 1.0) if r["required"] > 0 else np.nan
            n = r["required"]
        else:
            value, n = float((g["verdict"] == "met").mean()), float(len(g))
        worst = next((v for v in ("not_met", "undecided") if (g["verdict"] == v).any()), "met")
        rows.append({"area": area, "indicator": code, "estimate": value, "n": n,
                     "target": 1.0, "verdict": worst, "source": "task"})
    return pd.DataFrame(rows, columns=["area", "indicator", "estimate", "n", "target",
                                       "verdict", "source"])


def _from_register(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Register rows in summary shape: no sampling error; suppressed where nothing to count."""
    out = table.copy()
    out["area_level"] = np.where(out["area"] == plan.county, "county", "township")
    out["name_zh"] = [plan.target(c).name_zh for c in out["indicator"]]
    for col in ("se", "ci_low", "ci_high", "df", "deff"):
        out[col] = np.nan
    empty = out["estimate"].isna()
    out["flag"] = np.where(empty, "suppress", "ok")
    out["flag_reason"] = np.where(empty, "no_eligible", "")
    return out


def _finish(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Fixed columns and dtypes; county first, townships and indicators in plan order."""
    areas = {a: i for i, a in enumerate((plan.county, *plan.townships, *plan.departments))}
    codes = {t.code: i for i, t in enumerate(plan.entries)}
    out = table.copy()
    out["flag_reason"] = out["flag_reason"].fillna("")
    for col in _TEXT:
        out[col] = out[col].astype(str)
    for col in _STATS:
        out[col] = out[col].astype(float)
    out = out.assign(_a=out["area"].map(areas).fillna(len(areas)),
                     _i=out["indicator"].map(codes).fillna(len(codes)),
                     _e=out["estimator"].map(_ESTIMATOR_ORDER).fillna(len(_ESTIMATOR_ORDER)))
    out = out.sort_values(["period", "_a", "area", "_i", "indicator", "_e", "window_start"],
                          ascending=[True] * 6 + [False], kind="stable")
    return out[list(SUMMARY_COLUMNS)].reset_index(drop=True)
