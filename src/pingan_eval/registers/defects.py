"""The procedure checks of a safe-cell naming (:data:`DEFECT_RULES`) and what they leave counted.

:func:`assess` finds every defect seen by a day and the namings that are held and
counted; :func:`pair_counts` sums them per township x category.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pingan_eval import labels
from pingan_eval.plan import Plan
from pingan_eval.registers.columns import as_text


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


def unsupported(register: pd.DataFrame, plan: Plan) -> set[str]:
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


def unit_order(reg: pd.DataFrame) -> np.ndarray:
    """Each row's position in ``unit_id`` order (sorted once, for :func:`assess`)."""
    order = np.empty(len(reg), dtype=np.int64)
    order[np.argsort(reg["unit_id"].to_numpy(dtype=object), kind="stable")] = np.arange(len(reg))
    return order


def assess(reg: pd.DataFrame, elig: pd.DataFrame, plan: Plan, day: pd.Timestamp,
            skip: frozenset[str], *, details: bool = True, units: np.ndarray | None = None
            ) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Defects seen by ``day`` (long table over register rows), held and counted masks.

    ``details=False`` leaves the ``detail`` texts empty: counting needs only which rows
    are flawed, and writing a text for each of a large register's rows is most of the work.
    ``units`` is :func:`unit_order` of ``reg`` (computed here if not given; the callers
    that assess several days sort once).
    """
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
            if not details:  # the rows only: no copy of the register's columns
                rows = reg.index[mask.to_numpy()]
                found.append(pd.DataFrame({"row": rows, "rule": rule, "detail": "",
                                           "detail_zh": ""}, index=rows))
                return
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
    # the namings of a pair in order of date, then unit_id (integer keys: one string sort)
    units = unit_order(reg) if units is None else units
    rows = np.flatnonzero(valid.to_numpy())
    named_on = reg["named_on"].to_numpy(dtype="datetime64[ns]")[rows].astype(np.int64)
    perm = rows[np.lexsort((units[rows], named_on))]
    pairs = reg[["township", "category"]].iloc[perm]
    rank = np.zeros(len(reg))  # 0 for rows not counted: never above the cap
    rank[perm] = pairs.groupby(["township", "category"], sort=False).cumcount() + 1
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


def pair_counts(reg: pd.DataFrame, elig: pd.DataFrame, plan: Plan, day: pd.Timestamp,
                 skip: frozenset[str], units: np.ndarray | None = None) -> pd.DataFrame:
    """Per eligible township x category on ``day``: named (counted), defective, revoked."""
    _, held, counted = assess(reg, elig, plan, day, skip, details=False, units=units)
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
