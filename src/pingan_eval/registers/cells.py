"""Safe cells (平安细胞): naming rates, procedure defects and structural targets.

The input is the safe-cell register and the eligible-unit counts
(``registers/safe_cells.csv`` and ``registers/eligible.csv``, see data/raw/README.md);
every threshold, window and naming rule comes from the plan (:mod:`pingan_eval.plan.plan`).

A unit *holds* a naming on date ``d`` when ``named_on <= d`` and it was not revoked
(摘牌) on or before ``d``. A held naming *counts* toward the naming rate only when it has
no procedure defect (:data:`DEFECT_RULES`). Defects are listed by
:func:`procedure_defects`, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval import labels
from pingan_eval.errors import DataError
from pingan_eval.plan import NAMING_LEVELS, Plan, PlanLike, as_plan, resolve_as_of
from pingan_eval.registers.columns import as_text, cell_error, counts, dates, known

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

#: Columns the safe-cell register must have.
REGISTER_COLUMNS = ("unit_id", "township", "village", "category", "applied_on", "named_on",
                    "revoked_on")
#: Optional procedure columns; a check whose column is absent is skipped.
PROCEDURE_COLUMNS = ("named_by", "filed_with", "notice_start", "notice_end", "adults",
                     "adults_signed")
_DATES = ("applied_on", "named_on", "revoked_on", "notice_start", "notice_end")


@dataclass(frozen=True)
class DefectRule:
    """A procedure check: its code, Chinese label, meaning and the columns it needs."""

    code: str
    label_zh: str
    meaning: str
    columns: tuple[str, ...] = ()


#: Every procedure check, by code, in report order.
DEFECT_RULES: dict[str, DefectRule] = {r.code: r for r in (
    DefectRule("named_before_applied", "命名日期早于申请日期",
               "named_on is before applied_on"),
    DefectRule("revoked_before_named", "摘牌日期早于命名日期",
               "revoked_on is before named_on"),
    DefectRule("revoked_not_named", "未命名却有摘牌日期",
               "revoked_on is set but named_on is blank"),
    DefectRule("signatures", "成年家庭成员未全部本人签名",
               "a unit whose category needs signatures is named with adults_signed < "
               "adults, or with either blank", ("adults", "adults_signed")),
    DefectRule("signatures_exceed_adults", "签名人数多于成年成员数",
               "adults_signed > adults (the row contradicts itself)",
               ("adults", "adults_signed")),
    DefectRule("wrong_level", "命名层级不符",
               "named_by is blank or not the level the plan names this category at",
               ("named_by",)),
    DefectRule("not_filed", "未备案", "filed_with is blank where the plan requires filing",
               ("filed_with",)),
    DefectRule("wrong_filing", "备案层级不符",
               "filed_with is not the level the plan files this category with",
               ("filed_with",)),
    DefectRule("no_public_notice", "未经公示",
               "a category that needs a public notice (公示) is named without notice dates",
               ("notice_start", "notice_end")),
    DefectRule("notice_out_of_order", "公示日期顺序不符",
               "notice_end before notice_start, or named before the notice ended",
               ("notice_start", "notice_end")),
    DefectRule("outside_eligible", "超出乡镇应创建单位数",
               "held naming in a township and category with no eligible units, or beyond "
               "the eligible count (the latest namings are the surplus)"),
)}

#: How a blank date, count or level reads in a Chinese defect detail.
_BLANK_ZH = "未填"

#: Window status values of :func:`naming_rates`.
WINDOW_STATUSES = ("not_started", "open", "closed_on_time", "overdue")


# -- input ---------------------------------------------------------------------------------

def _register(register: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The register validated and typed: text stripped, dates datetime64, counts float."""
    missing = [c for c in REGISTER_COLUMNS if c not in register.columns]
    if missing:
        source = register.attrs.get("source", "register")
        raise DataError(f"{source}: missing required column(s) {', '.join(missing)}")
    reg = pd.DataFrame(index=register.index)
    reg.attrs.update(register.attrs)
    for col in ("unit_id", "township", "village", "category", "named_by", "filed_with"):
        if col in register.columns:
            reg[col] = as_text(register[col])
    blank_id = reg["unit_id"] == ""
    if blank_id.any():
        raise cell_error(register, "register", blank_id.idxmax(), "unit_id", "unit_id is blank")
    dup = reg["unit_id"].duplicated()
    if dup.any():
        row = dup.idxmax()
        raise cell_error(register, "register", row, "unit_id",
                    f"unit_id {reg.at[row, 'unit_id']!r} appears twice")
    known(register, "register", "township", reg["township"], plan.townships,
           "a township of the plan")
    known(register, "register", "category", reg["category"],
           [t.category for t in plan.cells], "a safe-cell category of the plan")
    for col in ("named_by", "filed_with"):
        if col in reg:
            known(register, "register", col, reg[col], NAMING_LEVELS, "a level",
                   blank_ok=True)
    for col in _DATES:
        if col in register.columns:
            reg[col] = dates(register, "register", col, required=col == "applied_on")
    for col in ("adults", "adults_signed"):
        if col in register.columns:
            reg[col] = counts(register, "register", col, blank_ok=True)
    return reg.reset_index(drop=True)


def _eligible(eligible: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Eligible counts validated: one row per township x category, ``eligible`` float."""
    missing = [c for c in ("township", "category", "eligible") if c not in eligible.columns]
    if missing:
        source = eligible.attrs.get("source", "eligible")
        raise DataError(f"{source}: missing required column(s) {', '.join(missing)}")
    out = pd.DataFrame({"township": as_text(eligible["township"]),
                        "category": as_text(eligible["category"])}, index=eligible.index)
    known(eligible, "eligible", "township", out["township"], plan.townships,
           "a township of the plan")
    known(eligible, "eligible", "category", out["category"],
           [t.category for t in plan.cells], "a safe-cell category of the plan")
    out["eligible"] = counts(eligible, "eligible", "eligible", blank_ok=False)
    dup = out.duplicated(["township", "category"])
    if dup.any():
        row = dup.idxmax()
        raise cell_error(eligible, "eligible", row, "category",
                    f"{out.at[row, 'township']} x {out.at[row, 'category']} appears twice")
    return out.reset_index(drop=True)


def load_registers(raw_dir: str | os.PathLike | None = None,
                   plan: PlanLike = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate ``registers/safe_cells.csv`` and ``registers/eligible.csv``.

    Parameters
    ----------
    raw_dir : path-like, optional
        A raw dataset folder (default: the shipped sample, ``data/raw/sample``).
    plan : Plan or path-like, optional
        The plan whose townships and categories are allowed (default: the shipped plan).

    Returns
    -------
    (register, eligible) : tuple of pandas.DataFrame
        The register with text columns stripped, date columns as ``datetime64`` (NaT
        where blank) and ``adults``/``adults_signed`` as float (NaN where blank); the
        eligible counts (``township, category, eligible``). Both are indexed by the
        spreadsheet row (``source_row``) and carry ``attrs["source"]``.

    Raises
    ------
    DataError
        A file or required column is missing; a date is not ``YYYY-MM-DD``; a count is
        not a whole number >= 0; a township, category or level is unknown; a unit_id or
        township x category repeats. The message names the file, row and column.
    """
    from pingan_eval.data.readers import read_table
    from pingan_eval.paths import SAMPLE_RAW_DIR

    plan = as_plan(plan)
    folder = Path(raw_dir) if raw_dir is not None else SAMPLE_RAW_DIR
    raw_reg = read_table(folder / "registers" / "safe_cells.csv", required=REGISTER_COLUMNS)
    raw_elig = read_table(folder / "registers" / "eligible.csv",
                          required=("township", "category", "eligible"))
    reg, elig = _register(raw_reg, plan), _eligible(raw_elig, plan)
    reg.index, elig.index = raw_reg.index, raw_elig.index
    return reg, elig


def skipped_checks(register: pd.DataFrame, plan: PlanLike = None) -> list[str]:
    """Codes of the procedure checks the register cannot support, in rule order.

    A check is skipped when a column it needs is absent, or when that column is blank on
    every row of the categories the check applies to (the register does not record it:
    e.g. no family row has notice dates). Reports list these checks as not performed.

    Examples
    --------
    >>> import pandas as pd
    >>> skipped_checks(pd.DataFrame(columns=["unit_id", "named_by", "filed_with"]))
    ['signatures', 'signatures_exceed_adults', 'no_public_notice', 'notice_out_of_order']
    >>> reg = pd.DataFrame({"category": ["family", "shop"], "named_by": "", "filed_with": "",
    ...                     "notice_start": ["", "2026-03-01"], "notice_end": ["", "2026-03-08"],
    ...                     "adults": [2, None], "adults_signed": [2, None]})
    >>> skipped_checks(reg)
    ['no_public_notice']
    """
    plan = as_plan(plan)
    skip = _unsupported(register, plan)
    return [code for code in DEFECT_RULES if code in skip]


# -- the measures ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Inputs:
    """Validated register and eligible counts, the plan, the day and the skipped checks."""

    reg: pd.DataFrame
    elig: pd.DataFrame
    plan: Plan
    day: pd.Timestamp
    skip: frozenset[str]

    @classmethod
    def of(cls, register: pd.DataFrame, eligible: pd.DataFrame, plan: PlanLike,
           as_of: str | dt.date | None) -> _Inputs:
        plan = as_plan(plan)
        return cls(reg=_register(register, plan), elig=_eligible(eligible, plan), plan=plan,
                   day=resolve_as_of(as_of, plan), skip=frozenset(_unsupported(register, plan)))


def _unsupported(register: pd.DataFrame, plan: Plan) -> set[str]:
    """Checks the register cannot support: a column is absent, or blank for every row of
    the categories that need it (the register does not record it)."""
    out = {r.code for r in DEFECT_RULES.values()
           if any(c not in register.columns for c in r.columns)}
    category = as_text(register["category"]) if "category" in register.columns else None
    for flag, rules in (("signatures", ("signatures",)),
                        ("public_notice", ("no_public_notice",))):
        cols = DEFECT_RULES[rules[0]].columns
        if category is None or any(c not in register.columns for c in cols):
            continue
        cats = [t.category for t in plan.cells if getattr(t, flag)]
        rows = category.isin(cats)
        if rows.any() and all((as_text(register.loc[rows, c]) == "").all() for c in cols):
            out.update(rules)
    return out


def _assess(reg: pd.DataFrame, elig: pd.DataFrame, plan: Plan, day: pd.Timestamp,
            skip: frozenset[str]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Defects seen by ``day`` (long table over register rows), held and counted masks."""
    cells = {t.category: t for t in plan.cells}
    cat = reg["category"]
    named = reg["named_on"].notna() & (reg["named_on"] <= day)
    revoked = reg["revoked_on"].notna() & (reg["revoked_on"] <= day)
    held = named & ~revoked
    in_view = named | revoked
    found: list[pd.DataFrame] = []

    def add(mask: pd.Series, rule: str, detail: Callable[[pd.DataFrame], pd.Series],
            detail_zh: Callable[[pd.DataFrame], pd.Series]) -> None:
        mask = mask.fillna(False).astype(bool)
        if rule not in skip and mask.any():
            sub = reg[mask]
            found.append(pd.DataFrame({"row": sub.index, "rule": rule, "detail": detail(sub),
                                       "detail_zh": detail_zh(sub)}, index=sub.index))

    def ymd(sub: pd.DataFrame, col: str, blank: str = "blank") -> pd.Series:
        return sub[col].dt.strftime("%Y-%m-%d").fillna(blank).astype(object)

    def num(sub: pd.DataFrame, col: str, blank: str = "blank") -> pd.Series:
        return sub[col].map(lambda v: blank if pd.isna(v) else f"{v:.0f}").astype(object)

    def level_zh(values: pd.Series) -> pd.Series:
        return values.map(lambda v: labels.zh("naming_level", v) if v else _BLANK_ZH)

    add(named & (reg["named_on"] < reg["applied_on"]), "named_before_applied",
        lambda d: "named " + ymd(d, "named_on") + ", applied " + ymd(d, "applied_on"),
        lambda d: "命名" + ymd(d, "named_on", _BLANK_ZH) + "，申请"
        + ymd(d, "applied_on", _BLANK_ZH))
    add(revoked & (reg["revoked_on"] < reg["named_on"]), "revoked_before_named",
        lambda d: "revoked " + ymd(d, "revoked_on") + ", named " + ymd(d, "named_on"),
        lambda d: "摘牌" + ymd(d, "revoked_on", _BLANK_ZH) + "，命名"
        + ymd(d, "named_on", _BLANK_ZH))
    add(revoked & reg["named_on"].isna(), "revoked_not_named",
        lambda d: "revoked " + ymd(d, "revoked_on") + " but never named",
        lambda d: "摘牌" + ymd(d, "revoked_on", _BLANK_ZH) + "，但从未命名")
    signed_text = lambda d: (num(d, "adults_signed") + " of " + num(d, "adults")  # noqa: E731
                             + " adults signed")
    signed_zh = lambda d: ("成年成员" + num(d, "adults", _BLANK_ZH) + "人，本人签名"  # noqa: E731
                           + num(d, "adults_signed", _BLANK_ZH) + "人")
    if "adults" in reg and "adults_signed" in reg:
        adults, signed = reg["adults"], reg["adults_signed"]
        needs = cat.map({c: t.signatures for c, t in cells.items()}).astype(bool)
        add(named & needs & (adults.isna() | signed.isna() | (signed < adults)),
            "signatures", signed_text, signed_zh)
        add(in_view & (signed > adults), "signatures_exceed_adults", signed_text, signed_zh)
    level = cat.map({c: t.named_by for c, t in cells.items()})
    filing = cat.map({c: t.filed_with for c, t in cells.items()})
    if "named_by" in reg:
        add(named & (reg["named_by"] != level), "wrong_level",
            lambda d: ("named by " + d["named_by"].replace("", "(blank)") + ", should be "
                       + level[d.index]),
            lambda d: ("命名层级为" + level_zh(d["named_by"]) + "，应为"
                       + level_zh(level[d.index])))
    if "filed_with" in reg:
        add(named & (filing != "") & (reg["filed_with"] == ""), "not_filed",
            lambda d: "not filed, should be filed with " + filing[d.index],
            lambda d: "未备案，应报" + level_zh(filing[d.index]) + "备案")
        add(named & (filing != "") & (reg["filed_with"] != "")
            & (reg["filed_with"] != filing), "wrong_filing",
            lambda d: "filed with " + d["filed_with"] + ", should be " + filing[d.index],
            lambda d: ("备案于" + level_zh(d["filed_with"]) + "，应为"
                       + level_zh(filing[d.index])))
    if "notice_start" in reg and "notice_end" in reg:
        start, end = reg["notice_start"], reg["notice_end"]
        needs = cat.map({c: t.public_notice for c, t in cells.items()}).astype(bool)
        add(named & needs & (start.isna() | end.isna()), "no_public_notice",
            lambda d: "notice " + ymd(d, "notice_start") + " to " + ymd(d, "notice_end"),
            lambda d: pd.Series(np.where(
                d["notice_start"].isna() & d["notice_end"].isna(), "未填公示起止日期",
                "公示" + ymd(d, "notice_start", _BLANK_ZH) + "至"
                + ymd(d, "notice_end", _BLANK_ZH)), index=d.index))
        add(in_view & ((end < start) | (named & (reg["named_on"] < end))),
            "notice_out_of_order",
            lambda d: pd.Series(np.where(
                d["notice_end"] < d["notice_start"],
                "notice ends " + ymd(d, "notice_end") + " before it starts "
                + ymd(d, "notice_start"),
                "named " + ymd(d, "named_on") + " before the notice ended "
                + ymd(d, "notice_end")), index=d.index),
            lambda d: pd.Series(np.where(
                d["notice_end"] < d["notice_start"],
                "公示结束" + ymd(d, "notice_end") + "早于开始" + ymd(d, "notice_start"),
                "命名" + ymd(d, "named_on") + "早于公示结束" + ymd(d, "notice_end")),
                index=d.index))

    flawed = pd.Series(False, index=reg.index)
    if found:
        flawed[pd.concat(found)["row"].unique()] = True
    # Surplus over the eligible count: the latest otherwise-valid namings of the pair.
    valid = held & ~flawed
    cap = reg[["township", "category"]].merge(elig, how="left", on=["township", "category"])
    cap = pd.Series(cap["eligible"].fillna(0.0).to_numpy(), index=reg.index)
    order = reg[valid].sort_values(["named_on", "unit_id"])
    rank = (order.groupby(["township", "category"]).cumcount() + 1).reindex(reg.index)
    surplus = valid & (rank > cap)
    add(surplus, "outside_eligible",
        lambda d: (cap[d.index].map("{:.0f}".format) + " eligible in " + d["township"]
                   + " x " + d["category"]),
        lambda d: (d["township"] + d["category"].map(lambda c: labels.zh("category", c))
                   + "应创建" + cap[d.index].map("{:.0f}".format) + "个，此单位为超出部分"))
    counted = valid & ~surplus
    defects = (pd.concat(found) if found
               else pd.DataFrame({"row": pd.Series(dtype="int64"), "rule": [], "detail": [],
                                  "detail_zh": []}))
    return defects, held, counted


def _pair_counts(reg: pd.DataFrame, elig: pd.DataFrame, plan: Plan, day: pd.Timestamp,
                 skip: frozenset[str]) -> pd.DataFrame:
    """Per eligible township x category on ``day``: named (counted), defective, revoked."""
    _, held, counted = _assess(reg, elig, plan, day, skip)
    revoked = (reg["named_on"].notna() & (reg["named_on"] <= day)
               & reg["revoked_on"].notna() & (reg["revoked_on"] <= day))
    per_unit = reg[["township", "category"]].assign(
        named=counted.astype(int), defective=(held & ~counted).astype(int),
        revoked=revoked.astype(int))
    sums = per_unit.groupby(["township", "category"], as_index=False).sum()
    out = elig.merge(sums, how="left", on=["township", "category"])
    for col in ("named", "defective", "revoked"):
        out[col] = out[col].fillna(0).astype("int64")
    return out


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
    return _rates(_Inputs.of(register, eligible, plan, as_of))


def _rates(inp: _Inputs) -> pd.DataFrame:
    """:func:`naming_rates` on validated inputs."""
    plan, day, reg, skip = inp.plan, inp.day, inp.reg, inp.skip
    elig = inp.elig[inp.elig["eligible"] > 0]
    out = _pair_counts(reg, elig, plan, day, skip)
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
        at_end = _pair_counts(reg, elig, plan, pd.Timestamp(end), skip)
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
    return _defects(_Inputs.of(register, eligible, plan, as_of))


def _defects(inp: _Inputs) -> pd.DataFrame:
    """:func:`procedure_defects` on validated inputs."""
    reg, skip = inp.reg, inp.skip
    defects, _, _ = _assess(reg, inp.elig, inp.plan, inp.day, skip)
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
    return _standards(_Inputs.of(register, eligible, plan, as_of))


def _standards(inp: _Inputs, rates: pd.DataFrame | None = None,
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
    inp = _Inputs.of(register, eligible, plan, as_of)
    rates = _rates(inp)
    return _structural(inp, rates, _standards(inp, rates))


def _structural(inp: _Inputs, rates: pd.DataFrame, towns: pd.DataFrame) -> pd.DataFrame:
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
    inp = _Inputs.of(register, eligible, plan, as_of)
    rates = _rates(inp)
    defects = _defects(inp)
    towns = _standards(inp, rates, defects)
    return Judgement(naming_rates=rates, defects=defects, standards=towns,
                     structural=_structural(inp, rates, towns),
                     skipped_checks=[c for c in DEFECT_RULES if c in inp.skip])
