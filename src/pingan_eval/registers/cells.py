"""Safe cells (平安细胞): naming rates, procedure defects and structural targets.

The input is the safe-cell register and the eligible-unit counts
(``registers/safe_cells.csv`` and ``registers/eligible.csv``, see data/raw/README.md);
every threshold, window and naming rule comes from the plan (:mod:`pingan_eval.plan`).

A unit *holds* a naming on date ``d`` when ``named_on <= d`` and it was not revoked
(摘牌) on or before ``d``. A held naming *counts* toward the naming rate only when it has
no procedure defect (:data:`DEFECT_RULES`). Defects are listed by
:func:`procedure_defects`, never dropped silently.

Reading and validating the register is :mod:`pingan_eval.registers.cell_inputs`, the
procedure checks are :mod:`pingan_eval.registers.defects`; their public names are
re-exported here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pingan_eval.plan import PlanLike
from pingan_eval.registers.cell_inputs import (
    PROCEDURE_COLUMNS,
    REGISTER_COLUMNS,
    Inputs,
    load_registers,
    skipped_checks,
)
from pingan_eval.registers.defects import DEFECT_RULES, DefectRule, assess, pair_counts, unit_order

__all__ = [
    "DEFECT_RULES",
    "PROCEDURE_COLUMNS",
    "REGISTER_COLUMNS",
    "WINDOW_STATUSES",
    "DefectRule",
    "Judgement",
    "judge",
    "load_registers",
    "naming_rates",
    "procedure_defects",
    "skipped_checks",
    "structural_targets",
    "township_standards",
]

#: Window status values of :func:`naming_rates`.
WINDOW_STATUSES = ("not_started", "open", "closed_on_time", "overdue")


def naming_rates(register: pd.DataFrame, eligible: pd.DataFrame,
                 as_of: str | dt.date | None = None,
                 plan: PlanLike = None) -> pd.DataFrame:
    """Naming rate (命名率) per township x safe-cell category on a date, against the plan.

    Parameters
    ----------
    register : pandas.DataFrame
        The safe-cell register (columns in data/raw/README.md; the procedure columns
        are optional). Text or already-typed columns are accepted. Not modified.
    eligible : pandas.DataFrame
        Columns ``township, category, eligible``: the denominators.
    as_of : str or date, optional
        The evaluation date, ``YYYY-MM-DD`` (default: the last day of the plan year).
    plan : Plan or path-like, optional
        A plan or a plan file; default: the shipped plan (:func:`pingan_eval.load_plan`).

    Returns
    -------
    pandas.DataFrame
        One row per township x category with ``eligible > 0``, sorted by township then
        category, columns:

        - ``township``, ``category``, ``name_zh``;
        - ``eligible`` (int): units eligible to be named;
        - ``named`` (int): units validly named on or before ``as_of`` and not revoked by
          it (held and free of procedure defects, at most ``eligible``);
        - ``defective`` (int): units holding a naming on ``as_of`` that does not count
          because of a procedure defect (see :func:`procedure_defects`);
        - ``revoked`` (int): units named and revoked (摘牌) on or before ``as_of``;
        - ``rate`` (float): ``named / eligible``;
        - ``target`` (float): the plan's threshold for the category;
        - ``verdict``: ``"met"`` if ``rate`` meets the target (plan comparison, usually
          ``>=``), else ``"not_met"``;
        - ``window_start``, ``window_end``: the category's window in the plan year;
        - ``window_status``: ``"not_started"`` (``as_of < window_start``), ``"open"``
          (``window_start <= as_of <= window_end``), ``"closed_on_time"`` (``as_of >
          window_end`` and the rate on ``window_end`` met the target) or ``"overdue"``
          (``as_of > window_end`` and it did not).

        ``attrs["skipped_checks"]`` lists the procedure checks the register could not
        support (:func:`skipped_checks`).

    Raises
    ------
    DataError
        A missing column, a bad date or count, an unknown township or category, a
        repeated unit_id or township x category; the message names the row and column.

    Notes
    -----
    With :math:`H_{tc}(d)` the units of township *t* and category *c* named on or
    before *d*, not revoked by *d* and free of defects, and :math:`E_{tc}` the eligible
    units, the rate is :math:`|H_{tc}(d)| / E_{tc}`. Boundary days count: a unit named
    on ``as_of`` is named, one revoked on ``as_of`` is not; a window includes both of
    its end days. Pairs with ``eligible == 0`` have no rate and are left out; a naming
    there is an ``outside_eligible`` defect.

    Examples
    --------
    >>> import pandas as pd
    >>> reg = pd.DataFrame({
    ...     "unit_id": ["H1", "H2", "H3"], "township": "青河镇", "village": "",
    ...     "category": "hotel", "applied_on": "2026-05-01",
    ...     "named_on": ["2026-07-31", "2026-08-01", ""], "revoked_on": ""})
    >>> eligible = pd.DataFrame({"township": ["青河镇"], "category": ["hotel"],
    ...                          "eligible": [2]})
    >>> naming_rates(reg, eligible, as_of="2026-07-31")[
    ...     ["named", "rate", "verdict", "window_status"]]
       named  rate  verdict window_status
    0      1   0.5  not_met          open
    >>> naming_rates(reg, eligible, as_of="2026-08-01")[
    ...     ["named", "rate", "verdict", "window_status"]]
       named  rate verdict window_status
    0      2   1.0     met       overdue
    """
    return _rates(Inputs.of(register, eligible, plan, as_of))


def _rates(inp: Inputs) -> pd.DataFrame:
    """:func:`naming_rates` on validated inputs."""
    plan, day, reg, skip = inp.plan, inp.day, inp.reg, inp.skip
    elig = inp.elig[inp.elig["eligible"] > 0]
    units = unit_order(reg)
    out = pair_counts(reg, elig, plan, day, skip, units)
    cats = plan.cell_categories.set_index("category")
    out["eligible"] = out["eligible"].astype("int64")
    out["rate"] = out["named"] / out["eligible"]
    out["target"] = out["category"].map(cats["threshold"]).astype("float64")
    cell_targets = [plan.cell(c) for c in out["category"]]
    met = pd.Series([t.meets(r) for t, r in zip(cell_targets, out["rate"], strict=True)],
                    index=out.index, dtype=bool)
    out["verdict"] = np.where(met, "met", "not_met")
    out["name_zh"] = out["category"].map(cats["name_zh"])
    out["window_start"] = out["category"].map(cats["window_start"])
    out["window_end"] = out["category"].map(cats["window_end"])
    status = np.where(day < out["window_start"], "not_started",
                      np.where(day <= out["window_end"], "open", "closed_on_time")).astype(object)
    for end in out.loc[status == "closed_on_time", "window_end"].unique():
        rows = (status == "closed_on_time") & (out["window_end"] == end).to_numpy()
        at_end = pair_counts(reg, elig, plan, pd.Timestamp(end), skip, units)
        at_end = out[["township", "category"]].merge(at_end, how="left",
                                                     on=["township", "category"])
        on_time = [t.meets(n / e) for t, n, e in
                   zip(cell_targets, at_end["named"], at_end["eligible"], strict=True)]
        status[rows & ~np.asarray(on_time, dtype=bool)] = "overdue"
    out["window_status"] = status
    cols = ["township", "category", "name_zh", "eligible", "named", "defective", "revoked",
            "rate", "target", "verdict", "window_start", "window_end", "window_status"]
    out = out[cols].sort_values(["township", "category"], ignore_index=True)
    out.attrs["skipped_checks"] = [c for c in DEFECT_RULES if c in skip]
    return out


def procedure_defects(register: pd.DataFrame, eligible: pd.DataFrame,
                      plan: PlanLike = None,
                      as_of: str | dt.date | None = None) -> pd.DataFrame:
    """Every procedure defect seen by a date, one row per unit and rule.

    Parameters
    ----------
    register, eligible : pandas.DataFrame
        As for :func:`naming_rates`.
    plan : Plan or path-like, optional
        A plan or a plan file; default: the shipped plan.
    as_of : str or date, optional
        Only events on or before this day are seen (default: the plan year's end).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit_id, township, village, category, rule, detail, detail_zh,
        label_zh``, sorted by ``unit_id`` then ``rule``. ``rule`` is a code of
        :data:`DEFECT_RULES`, ``label_zh`` its Chinese label, ``detail`` the values
        that break it (``detail_zh``: the same in Chinese, as reports show it). A row
        is checked once it has been named or revoked by ``as_of``; namings since
        revoked keep their defects. ``attrs["skipped_checks"]`` lists the checks the
        register's columns could not support.

    Raises
    ------
    DataError
        As for :func:`naming_rates`.

    Examples
    --------
    >>> import pandas as pd
    >>> reg = pd.DataFrame({
    ...     "unit_id": ["F1", "F2"], "township": "青河镇", "village": "一村",
    ...     "category": "family", "applied_on": "2026-03-02",
    ...     "named_on": ["2026-03-20", "2026-03-01"], "revoked_on": "",
    ...     "adults": [3, 2], "adults_signed": [2, 2]})
    >>> eligible = pd.DataFrame({"township": ["青河镇"], "category": ["family"],
    ...                          "eligible": [2]})
    >>> d = procedure_defects(reg, eligible, as_of="2026-04-30")
    >>> d[["unit_id", "rule", "detail"]]
      unit_id                  rule                                detail
    0      F1            signatures                  2 of 3 adults signed
    1      F2  named_before_applied  named 2026-03-01, applied 2026-03-02
    >>> d.attrs["skipped_checks"]
    ['wrong_level', 'not_filed', 'wrong_filing', 'no_public_notice', 'notice_out_of_order']
    """
    return _defects(Inputs.of(register, eligible, plan, as_of))


def _defects(inp: Inputs) -> pd.DataFrame:
    """:func:`procedure_defects` on validated inputs."""
    reg, skip = inp.reg, inp.skip
    defects, _, _ = assess(reg, inp.elig, inp.plan, inp.day, skip)
    keep = ["unit_id", "township", "village", "category"]
    out = reg.loc[defects["row"].to_numpy(dtype="int64"), keep]
    out = out.reset_index(drop=True)
    out["rule"] = defects["rule"].to_numpy()
    out["detail"] = defects["detail"].to_numpy()
    out["detail_zh"] = defects["detail_zh"].to_numpy()
    out["label_zh"] = out["rule"].map(lambda r: DEFECT_RULES[r].label_zh)
    out = out.sort_values(["unit_id", "rule"], ignore_index=True)
    for col in out.columns:
        out[col] = out[col].astype(object)
    out.attrs["skipped_checks"] = [c for c in DEFECT_RULES if c in skip]
    return out


def township_standards(register: pd.DataFrame, eligible: pd.DataFrame,
                       plan: PlanLike = None,
                       as_of: str | dt.date | None = None) -> pd.DataFrame:
    """Whether each township meets the safe-construction standard, and is excellent.

    Parameters
    ----------
    register, eligible : pandas.DataFrame
        As for :func:`naming_rates`.
    plan : Plan or path-like, optional
        A plan or a plan file; default: the shipped plan.
    as_of : str or date, optional
        Default: the plan year's end.

    Returns
    -------
    pandas.DataFrame
        One row per township of the plan, in plan order, columns ``township``,
        ``categories`` (categories with eligible units), ``categories_met``,
        ``overdue`` (categories whose window closed below target), ``defects``
        (procedure defects seen in the township), ``standard`` (bool), ``excellent``
        (bool).

    Notes
    -----
    The plan names the standard (自治区平安建设标准) without defining it, so this
    module uses a register-only definition:

    - a township **meets the standard** (达标) when it has at least one category with
      eligible units and every such category meets its naming-rate target on ``as_of``
      (the 平安乡镇 re-inspection is one of those categories);
    - a township is **excellent** (优秀平安乡镇) when it meets the standard, no window of
      it is overdue (every target was met by its window's end), and no procedure
      defect was seen in it.

    Survey indicators are not part of either definition; reports show them alongside.
    """
    return _standards(Inputs.of(register, eligible, plan, as_of))


def _standards(inp: Inputs, rates: pd.DataFrame | None = None,
               defects: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`township_standards` on validated inputs (``rates``, ``defects`` when already
    computed)."""
    rates = _rates(inp) if rates is None else rates
    defects = _defects(inp) if defects is None else defects
    per = rates.groupby("township").agg(
        categories=("category", "size"),
        categories_met=("verdict", lambda v: int((v == "met").sum())),
        overdue=("window_status", lambda v: int((v == "overdue").sum())))
    out = pd.DataFrame({"township": list(inp.plan.townships)}).join(per, on="township")
    out["defects"] = out["township"].map(defects.groupby("township").size())
    for col in ("categories", "categories_met", "overdue", "defects"):
        out[col] = out[col].fillna(0).astype("int64")
    out["standard"] = (out["categories"] > 0) & (out["categories_met"] == out["categories"])
    out["excellent"] = out["standard"] & (out["overdue"] == 0) & (out["defects"] == 0)
    return out


def structural_targets(register: pd.DataFrame, eligible: pd.DataFrame,
                       plan: PlanLike = None,
                       as_of: str | dt.date | None = None) -> pd.DataFrame:
    """The plan's structural targets measured from the register.

    Parameters
    ----------
    register, eligible : pandas.DataFrame
        As for :func:`naming_rates`.
    plan : Plan or path-like, optional
        A plan or a plan file; default: the shipped plan.
    as_of : str or date, optional
        Default: the plan year's end.

    Returns
    -------
    pandas.DataFrame
        One row per ``[[structural]]`` target, in plan order, columns ``code``,
        ``name_zh``, ``measure`` (``"rate"`` or ``"count"``), ``numerator``,
        ``denominator``, ``rate`` (numerator / denominator), ``value`` (what is
        compared with the target: the rate, or the numerator for a count),
        ``target``, ``baseline`` (NaN where the plan gives none), ``due`` and
        ``verdict``: ``"met"`` if the value meets the target, else ``"undecided"``
        while ``as_of <= due`` and ``"not_met"`` after.

    Notes
    -----
    By ``kind`` (see :func:`township_standards` for the township definitions):

    - ``townships_standard``: townships meeting the standard / townships of the plan;
    - ``townships_excellent``: excellent townships / townships of the plan;
    - ``townships_excellent_count``: the number of excellent townships;
    - ``category_rate``: the county-wide naming rate of one category, sum of ``named``
      over sum of ``eligible`` of :func:`naming_rates` (units: 优秀平安单位; villages and
      communities: 优秀平安村(社区); the family creation rate: 优秀平安家庭).
    """
    inp = Inputs.of(register, eligible, plan, as_of)
    rates = _rates(inp)
    return _structural(inp, rates, _standards(inp, rates))


def _structural(inp: Inputs, rates: pd.DataFrame, towns: pd.DataFrame) -> pd.DataFrame:
    """:func:`structural_targets` from validated inputs, the rates and the standards."""
    plan, day = inp.plan, inp.day
    rows = []
    for t in plan.structural:
        if t.kind == "category_rate":
            sub = rates[rates["category"] == t.category]
            num, den = float(sub["named"].sum()), float(sub["eligible"].sum())
        else:
            col = "standard" if t.kind == "townships_standard" else "excellent"
            num, den = float(towns[col].sum()), float(len(towns))
        rate = num / den if den > 0 else np.nan
        value = num if t.measure == "count" else rate
        met = bool(t.meets(value))
        verdict = "met" if met else ("undecided" if day <= t.window_end else "not_met")
        rows.append({"code": t.code, "name_zh": t.name_zh, "measure": t.measure,
                     "numerator": num, "denominator": den, "rate": rate, "value": value,
                     "target": t.threshold, "baseline": t.baseline, "due": t.window_end,
                     "verdict": verdict})
    cols = ["code", "name_zh", "measure", "numerator", "denominator", "rate", "value",
            "target", "baseline", "due", "verdict"]
    out = pd.DataFrame(rows, columns=cols)
    out["due"] = pd.to_datetime(out["due"]).astype("datetime64[ns]")
    return out


@dataclass(frozen=True)
class Judgement:
    """Every measure of the register on one day: what :func:`judge` returns.

    Attributes
    ----------
    naming_rates, defects, standards, structural : pandas.DataFrame
        As :func:`naming_rates`, :func:`procedure_defects`, :func:`township_standards`
        and :func:`structural_targets` return them.
    skipped_checks : list of str
        As :func:`skipped_checks`.
    """

    naming_rates: pd.DataFrame
    defects: pd.DataFrame
    standards: pd.DataFrame
    structural: pd.DataFrame
    skipped_checks: list[str]


def judge(register: pd.DataFrame, eligible: pd.DataFrame, plan: PlanLike = None,
          as_of: str | dt.date | None = None) -> Judgement:
    """All the register's measures at once, equal to calling each function on its own.

    The register is validated once and each measure computed once (the standards reuse
    the rates and defects, the structural targets the standards): for a county of 100
    townships this is several times faster than the separate calls.

    Parameters
    ----------
    register, eligible : pandas.DataFrame
        As for :func:`naming_rates`.
    plan : Plan or path-like, optional
        A plan or a plan file; default: the shipped plan.
    as_of : str or date, optional
        Default: the plan year's end.

    Returns
    -------
    Judgement
    """
    inp = Inputs.of(register, eligible, plan, as_of)
    rates = _rates(inp)
    defects = _defects(inp)
    towns = _standards(inp, rates, defects)
    return Judgement(naming_rates=rates, defects=defects, standards=towns,
                     structural=_structural(inp, rates, towns),
                     skipped_checks=[c for c in DEFECT_RULES if c in inp.skip])
