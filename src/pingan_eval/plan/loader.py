"""The campaign plan as data: one TOML file per county holds every target.

:func:`load_plan` reads and validates a plan file (the shipped default is
``plans/qinghe.toml``, Qinghe County's 2013 plan run in the plan year 2026) and returns a
frozen :class:`Plan`. Reports, registers and task logs take every threshold, window and
naming rule from it; another county is another file, with no code change.

A plan file has a ``[plan]`` table (``county``, ``townships``, ``year``, optional
``title_zh`` and ``source_year``), an optional ``[estimation]`` table (``pooled_windows``,
a list of :data:`POOLED_WINDOWS`, and ``official``, a table level -> estimator of
:data:`ESTIMATORS`: which estimate gives the official verdict), and four arrays of
tables:

- ``[[survey]]``: survey indicators (``code`` one of :data:`INDICATORS`; an optional
  ``official`` table overrides ``[estimation]``'s for this target);
- ``[[cells]]``: safe-cell categories (``category`` one of :data:`CELL_CATEGORIES`,
  ``window_start``, ``window_end``, ``named_by``, ``filed_with``, optional ``signatures``
  and ``public_notice`` flags); their target code is ``cell_<category>``;
- ``[[structural]]``: structural targets (``kind`` one of :data:`STRUCTURAL_KINDS`);
- ``[[tasks]]``: campaign tasks (``table`` one of :data:`TASK_TABLES`, the log they are
  measured from; or ``measure = "done"``: work entered in the task ledger,
  ``tasks/ledger.csv``, with its date and evidence). A task may name
  ``co_departments``, a ``level`` (:data:`TASK_LEVELS`), a ``due`` date (the same as
  ``window_end``), a ``recurrence`` (``monthly``, ``kept``: long-term kept, checked every
  month; or ``months = [3, 5, 7, 9]``) and ``evidence_zh`` (the evidence expected).

``[plan] departments`` lists the county departments the plan holds to account; where it
is given, every part of a task's ``lead_department`` (split at 、) must be one of them, a
township, 各乡(镇) (every township) or 各部门(单位) (every department), and so must each
of its ``co_departments``.

Every entry may set ``name_zh``, ``threshold``, ``comparison`` (default ``">="``),
``lead_department``, ``plan_ref``, ``window_start``/``window_end`` and ``year_offset``.
A date is ``"MM-DD"`` (resolved to the plan year plus ``year_offset``) or a TOML date
(used as is). Unknown keys are errors, so a typo cannot silently drop a rule.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pingan_eval.errors import PlanError
from pingan_eval.paths import PLANS_DIR
from pingan_eval.plan.schema import (
    ALL_DEPARTMENTS_ZH,
    ALL_TOWNSHIPS_ZH,
    CELL_CATEGORIES,
    COMPARISONS,
    DEFAULT_OFFICIAL,
    ESTIMATORS,
    INDICATORS,
    LEVELS,
    LONELY_PSU,
    NAMING_LEVELS,
    POOLED_WINDOWS,
    RECURRENCES,
    STRUCTURAL_KINDS,
    TASK_LEVELS,
    TASK_MEASURES,
    TASK_TABLES,
    Estimation,
    Plan,
    Target,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

#: The shipped default plan file.
DEFAULT_PLAN = PLANS_DIR / "qinghe.toml"

_COMMON = {"name_zh", "threshold", "comparison", "lead_department", "plan_ref",
           "window_start", "window_end", "year_offset", "level"}
_KEYS = {
    "survey": _COMMON | {"code", "official"},
    "cells": _COMMON | {"category", "named_by", "filed_with", "signatures", "public_notice"},
    "structural": _COMMON | {"code", "kind", "category", "baseline", "measure"},
    "tasks": _COMMON | {"code", "table", "measure", "column", "numerator", "denominator",
                        "date_column", "by_township", "townships", "months",
                        "co_departments", "recurrence", "due", "evidence_zh"},
}
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


def load_plan(path: str | os.PathLike | None = None, *, year: int | None = None) -> Plan:
    """Read and validate a plan file.

    Parameters
    ----------
    path : str or path-like, optional
        A plan TOML file. ``None`` reads the shipped Qinghe plan (:data:`DEFAULT_PLAN`).
    year : int, optional
        Run the plan in this year instead of the file's ``[plan] year``.

    Returns
    -------
    Plan
        The validated plan; ``plan.targets`` lists every target.

    Raises
    ------
    PlanError
        The file is missing or is not TOML; a section or key is unknown; a required key
        is missing; an indicator, category, kind, table, column, level or comparison is
        unknown; a rate threshold is outside [0, 1] or a count threshold is not a whole
        number >= 0; a date is not ``MM-DD`` or a valid date; a window ends before it
        starts; a code repeats. The message names the file and the entry.

    Examples
    --------
    >>> plan = load_plan()
    >>> plan.county, plan.year, len(plan.townships)
    ('青河县', 2026, 7)
    >>> plan.survey_targets["code"].tolist()
    ['awareness', 'participation', 'satisfaction', 'security', 'legal_satisfaction']
    >>> c = plan.cell("family")
    >>> c.window_start.date(), c.window_end.date(), c.named_by, c.filed_with
    (datetime.date(2026, 3, 1), datetime.date(2026, 4, 30), 'village', 'township')
    """
    path = Path(path) if path is not None else DEFAULT_PLAN
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise PlanError(f"{path}: plan file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: not a valid TOML file: {exc}") from None
    return _Builder(path, raw, year).build()


class _Builder:
    """Validates the parsed TOML of one plan file and builds its :class:`Plan`."""

    def __init__(self, path: Path, raw: dict[str, Any], year: int | None) -> None:
        self.path = path
        self.raw = raw
        self.year_override = year

    def fail(self, where: str, msg: str) -> PlanError:
        return PlanError(f"{self.path}: {where}: {msg}")

    def build(self) -> Plan:
        unknown = set(self.raw) - {"plan", "estimation", *_KEYS}
        if unknown:
            raise self.fail("top level", f"unknown section(s) {sorted(unknown)}; "
                            f"expected [plan], [estimation], "
                            f"{', '.join(f'[[{k}]]' for k in _KEYS)}")
        head = self.raw.get("plan")
        if not isinstance(head, dict):
            raise self.fail("top level", "missing the [plan] table")
        extra = set(head) - {"county", "townships", "year", "title_zh", "source_year",
                             "departments"}
        if extra:
            raise self.fail("[plan]", f"unknown key(s) {sorted(extra)}")
        county = self.text(head, "county", "[plan]")
        towns = head.get("townships")
        if (not isinstance(towns, list) or not towns
                or not all(isinstance(t, str) and t.strip() for t in towns)):
            raise self.fail("[plan]", "townships must be a non-empty list of names")
        if len(set(towns)) != len(towns):
            raise self.fail("[plan]", f"a township is listed twice: {towns}")
        year = self.year_override if self.year_override is not None else head.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
            raise self.fail("[plan]", f"year must be a whole number (e.g. 2026), got {year!r}")
        self.year = year
        self.townships = tuple(towns)
        depts = head.get("departments", [])
        if (not isinstance(depts, list)
                or not all(isinstance(d, str) and d.strip() for d in depts)):
            raise self.fail("[plan]", "departments must be a list of department names")
        depts = [d.strip() for d in depts]
        if len(set(depts)) != len(depts):
            raise self.fail("[plan]", f"a department is listed twice: {depts}")
        clash = sorted(set(depts) & set(towns))
        if clash:
            raise self.fail("[plan]", f"departments names a township: {clash}")
        self.departments = tuple(depts)
        source_year = head.get("source_year")
        if source_year is not None and (not isinstance(source_year, int)
                                        or isinstance(source_year, bool)):
            raise self.fail("[plan]", f"source_year must be a whole number, got {source_year!r}")

        entries: list[Target] = []
        for section, make in (("survey", self.survey), ("cells", self.cell),
                              ("structural", self.structural), ("tasks", self.task)):
            items = self.raw.get(section, [])
            if not isinstance(items, list):
                raise self.fail(f"[[{section}]]", "must be an array of tables ([[...]])")
            for i, item in enumerate(items, start=1):
                where = f"[[{section}]] entry {i}"
                if not isinstance(item, dict):
                    raise self.fail(where, "must be a table")
                label = item.get("code", item.get("category"))
                if label is not None:
                    where += f" ({label!r})"
                extra = set(item) - _KEYS[section]
                if extra:
                    raise self.fail(where, f"unknown key(s) {sorted(extra)}; "
                                    f"allowed: {', '.join(sorted(_KEYS[section]))}")
                entries.append(make(item, where))
        seen: set[str] = set()
        for t in entries:
            if t.code in seen:
                raise self.fail(f"target {t.code!r}", "the code appears twice")
            seen.add(t.code)
        for t in entries:
            if t.category and t.source == "structural" and f"cell_{t.category}" not in seen:
                raise self.fail(f"[[structural]] {t.code!r}",
                                f"category {t.category!r} has no [[cells]] entry")
        return Plan(county=county, townships=self.townships, year=year,
                    entries=tuple(entries), title_zh=str(head.get("title_zh", "")),
                    source_year=source_year, path=str(self.path),
                    departments=self.departments,
                    estimation=self.estimation(self.raw.get("estimation", {})))

    def estimation(self, table: Any) -> Estimation:
        """The ``[estimation]`` table: pooling windows and official estimators."""
        where = "[estimation]"
        if not isinstance(table, dict):
            raise self.fail(where, "must be a table")
        extra = set(table) - {"pooled_windows", "official", "lonely_psu"}
        if extra:
            raise self.fail(where, f"unknown key(s) {sorted(extra)}; "
                            "allowed: lonely_psu, official, pooled_windows")
        lonely = self.choice(table, "lonely_psu", where, LONELY_PSU, Estimation().lonely_psu)
        windows = table.get("pooled_windows", list(Estimation().pooled_windows))
        if (not isinstance(windows, list)
                or not all(isinstance(w, str) and w in POOLED_WINDOWS for w in windows)
                or len(set(windows)) != len(windows)):
            raise self.fail(where, f"pooled_windows must be a list of distinct windows "
                            f"from {', '.join(POOLED_WINDOWS)}; got {windows!r}")
        official = dict(DEFAULT_OFFICIAL)
        official.update(self.official(table.get("official", {}), f"{where} official"))
        if "pooled" in official.values() and not windows:
            raise self.fail(where, "an official 'pooled' estimator needs pooled_windows")
        return Estimation(official=tuple(official.items()), pooled_windows=tuple(windows),
                          lonely_psu=lonely)

    def official(self, table: Any, where: str) -> dict[str, str]:
        """A table level -> estimator (``county = "direct"``, ``township = "model"``)."""
        if not isinstance(table, dict):
            raise self.fail(where, 'must be a table such as { township = "model" }')
        for level, estimator in table.items():
            if level not in ("county", "township"):
                raise self.fail(where, f"unknown level {level!r}; expected county, township")
            if estimator not in ESTIMATORS:
                raise self.fail(where, f"unknown estimator {estimator!r} for {level}; "
                                f"expected one of {', '.join(ESTIMATORS)}")
            if level == "county" and estimator == "model":
                raise self.fail(where, "the model is fitted to townships; the county's "
                                "official estimator is 'direct' or 'pooled'")
        return dict(table)

    # -- field readers -----------------------------------------------------------------

    def text(self, item: Mapping[str, Any], key: str, where: str,
             default: str | None = None) -> str:
        value = item.get(key, default)
        if value is None:
            raise self.fail(where, f"missing required key {key!r}")
        if not isinstance(value, str):
            raise self.fail(where, f"{key} must be a text string, got {value!r}")
        return value.strip()

    def choice(self, item: Mapping[str, Any], key: str, where: str, allowed: Any,
               default: str | None = None) -> str:
        value = self.text(item, key, where, default)
        if value not in allowed:
            raise self.fail(where, f"unknown {key} {value!r}; expected one of "
                            f"{', '.join(allowed)}")
        return value

    def flag(self, item: Mapping[str, Any], key: str, where: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(where, f"{key} must be true or false, got {value!r}")
        return value

    def number(self, value: Any, key: str, where: str, measure: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"{key} must be a number, got {value!r}")
        value = float(value)
        if measure == "rate" and not 0.0 <= value <= 1.0:
            raise self.fail(where, f"{key} {value:g} is outside [0, 1] (a rate is a "
                            "share: write 0.95 for 95%)")
        if measure == "done" and (value < 1 or not value.is_integer()):
            raise self.fail(where, f"{key} {value:g} must be a whole number >= 1 for a "
                            "done task (the pieces of work required)")
        if measure == "count" and (value < 0 or not value.is_integer()):
            raise self.fail(where, f"{key} {value:g} must be a whole number >= 0 for a "
                            "count target")
        return value

    def date(self, value: Any, key: str, where: str, offset: int) -> pd.Timestamp:
        if value is None:
            return pd.NaT
        if isinstance(value, dt.datetime):
            raise self.fail(where, f"{key} must be a date without a time, got {value!r}")
        if isinstance(value, dt.date):
            return pd.Timestamp(value)
        m = _MONTH_DAY.match(value) if isinstance(value, str) else None
        if m is None:
            raise self.fail(where, f"{key} must be 'MM-DD' or a date (YYYY-MM-DD), "
                            f"got {value!r}")
        try:
            return pd.Timestamp(dt.date(self.year + offset, int(m[1]), int(m[2])))
        except ValueError:
            raise self.fail(where, f"{key} {value!r} is not a day of the year "
                            f"{self.year + offset}") from None

    def common(self, item: Mapping[str, Any], where: str, source: str, code: str,
               measure: str, level: str,
               levels: tuple[str, ...] = LEVELS) -> dict[str, Any]:
        """Fields every entry shares, validated."""
        if "threshold" not in item:
            raise self.fail(where, "missing required key 'threshold'")
        offset = item.get("year_offset", 0)
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise self.fail(where, f"year_offset must be a whole number, got {offset!r}")
        start = self.date(item.get("window_start"), "window_start", where, offset)
        end = self.date(item.get("window_end"), "window_end", where, offset)
        if pd.notna(start) and pd.notna(end) and end < start:
            raise self.fail(where, f"window ends ({end.date()}) before it starts "
                            f"({start.date()})")
        return {
            "code": code,
            "name_zh": self.text(item, "name_zh", where),
            "source": source,
            "threshold": self.number(item["threshold"], "threshold", where, measure),
            "comparison": self.choice(item, "comparison", where, COMPARISONS, ">="),
            "level": self.choice(item, "level", where, levels, level),
            "window_start": start,
            "window_end": end,
            "lead_department": self.text(item, "lead_department", where, ""),
            "plan_ref": self.text(item, "plan_ref", where, ""),
            "measure": measure,
        }

    # -- sections ----------------------------------------------------------------------

    def survey(self, item: Mapping[str, Any], where: str) -> Target:
        code = self.choice(item, "code", where, INDICATORS)
        official = tuple(self.official(item.get("official", {}), f"{where} official").items())
        return Target(**self.common(item, where, "survey", code, "rate", "county"),
                      official=official)

    def cell(self, item: Mapping[str, Any], where: str) -> Target:
        category = self.choice(item, "category", where, CELL_CATEGORIES)
        fields = self.common(item, where, "register", f"cell_{category}", "rate", "township")
        for key in ("window_start", "window_end"):
            if pd.isna(fields[key]):
                raise self.fail(where, f"missing required key {key!r}")
        filed = self.text(item, "filed_with", where, "")
        if filed and filed not in NAMING_LEVELS:
            raise self.fail(where, f"unknown filed_with {filed!r}; expected one of "
                            f"{', '.join(NAMING_LEVELS)} (or leave it out: no filing)")
        return Target(**fields, category=category,
                      named_by=self.choice(item, "named_by", where, NAMING_LEVELS),
                      filed_with=filed,
                      signatures=self.flag(item, "signatures", where),
                      public_notice=self.flag(item, "public_notice", where))

    def structural(self, item: Mapping[str, Any], where: str) -> Target:
        code = self.text(item, "code", where)
        kind = self.choice(item, "kind", where, STRUCTURAL_KINDS)
        measure = "count" if kind == "townships_excellent_count" else "rate"
        if item.get("measure", measure) != measure:
            raise self.fail(where, f"kind {kind!r} is a {measure} target, not "
                            f"{item['measure']!r}")
        category = ""
        if kind == "category_rate":
            category = self.choice(item, "category", where, CELL_CATEGORIES)
        elif "category" in item:
            raise self.fail(where, f"kind {kind!r} takes no category")
        baseline = item.get("baseline")
        return Target(**self.common(item, where, "structural", code, measure, "county"),
                      kind=kind, category=category,
                      baseline=math.nan if baseline is None
                      else self.number(baseline, "baseline", where, measure))

    def task(self, item: Mapping[str, Any], where: str) -> Target:
        code = self.text(item, "code", where)
        measure = self.choice(item, "measure", where, TASK_MEASURES)
        if "due" in item:
            if "window_end" in item:
                raise self.fail(where, "give the due date once: 'due' or 'window_end'")
            item = {k: v for k, v in item.items() if k != "due"} | {"window_end": item["due"]}
        for key in ("recurrence", "evidence_zh"):
            if key in item and measure != "done":
                raise self.fail(where, f"{key!r} is for done tasks (measure = \"done\")")
        co = self.names(item, "co_departments", where)
        if measure == "done":
            return self.done_task(item, where, code, co)
        table = self.choice(item, "table", where, TASK_TABLES)
        spec = TASK_TABLES[table]
        level = spec.level
        if item.get("level", level) != level:
            raise self.fail(where, f"table {table!r} is kept per {level}, so level must be "
                            f"{level!r}, not {item['level']!r}")
        fields = self.common(item, where, "task", code, measure, level)
        counts = spec.counts
        cols: dict[str, str] = {}
        needed = ("numerator", "denominator") if measure == "rate" else ("column",)
        for key in ("column", "numerator", "denominator"):
            if key in item and key not in needed:
                raise self.fail(where, f"a {measure} task takes no {key!r}")
        for key in needed:
            cols[key] = self.choice(item, key, where, counts)
        date_column = ""
        if "date_column" in item:
            date_column = self.choice(item, "date_column", where,
                                      spec.observed + spec.events)
        months: tuple[int, ...] = ()
        if level == "county":
            raw_months = item.get("months")
            if (not isinstance(raw_months, list) or not raw_months
                    or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12
                               for m in raw_months)):
                raise self.fail(where, f"table {table!r} is kept per month: months must be "
                                "a non-empty list of month numbers 1-12")
            months = tuple(sorted(set(raw_months)))
            if pd.isna(fields["window_start"]):
                fields["window_start"] = pd.Timestamp(self.year, months[0], 1)
            if pd.isna(fields["window_end"]):
                fields["window_end"] = (pd.Timestamp(self.year, months[-1], 1)
                                        + pd.offsets.MonthEnd(0))
        elif "months" in item:
            raise self.fail(where, f"table {table!r} is not kept per month; remove 'months'")
        elif pd.isna(fields["window_end"]):
            raise self.fail(where, "missing required key 'window_end' (the due date)")
        towns = item.get("townships", [])
        if not isinstance(towns, list) or any(t not in self.townships for t in towns):
            raise self.fail(where, f"townships must list townships of the plan, got {towns!r}")
        by_town = item.get("by_township", {})
        if not isinstance(by_town, dict):
            raise self.fail(where, "by_township must be a table of township = threshold")
        overrides = []
        for town, value in by_town.items():
            if town not in self.townships:
                raise self.fail(where, f"by_township names {town!r}, not a township of the "
                                f"plan ({', '.join(self.townships)})")
            overrides.append((town, self.number(value, f"by_township.{town}", where, measure)))
        lead = self.accountable(fields["lead_department"], where, tuple(towns))
        if any(a in self.townships for a in lead):
            lead = tuple(a for a in lead if a in self.townships)  # a township log
        return Target(**fields, table=table, date_column=date_column, months=months,
                      townships=tuple(towns), by_township=tuple(overrides), **cols,
                      co_departments=co, accountable=lead,
                      recurrence="months" if months else "")

    def done_task(self, item: Mapping[str, Any], where: str, code: str,
                  co: tuple[str, ...]) -> Target:
        """A task measured from the ledger: work done by its due date(s), with evidence."""
        for key in ("table", "column", "numerator", "denominator", "date_column",
                    "by_township"):
            if key in item:
                raise self.fail(where, f"a done task (measured from the ledger) takes no "
                                f"{key!r}")
        level = self.choice(item, "level", where, TASK_LEVELS, "department")
        if level == "village":
            raise self.fail(where, "a done task is kept per county, department or "
                            "township, not per village")
        fields = self.common({"threshold": 1} | dict(item), where, "task", code, "done",
                             level, TASK_LEVELS)
        towns = item.get("townships", [])
        if not isinstance(towns, list) or any(t not in self.townships for t in towns):
            raise self.fail(where, f"townships must list townships of the plan, got {towns!r}")
        recurrence = self.choice(item, "recurrence", where, RECURRENCES, "")
        raw_months = item.get("months")
        months: tuple[int, ...] = ()
        if raw_months is not None:
            if (not isinstance(raw_months, list) or not raw_months
                    or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12
                               for m in raw_months)):
                raise self.fail(where, "months must be a non-empty list of month numbers 1-12")
            months = tuple(sorted(set(raw_months)))
            recurrence = recurrence or "months"
            if recurrence == "monthly":
                raise self.fail(where, "recurrence 'monthly' is every month of the window; "
                                "with listed months write recurrence = 'months'")
        elif recurrence == "months":
            raise self.fail(where, "recurrence 'months' needs months = [...]")
        elif recurrence:
            first = 1 if pd.isna(fields["window_start"]) else fields["window_start"].month
            last = 12 if pd.isna(fields["window_end"]) else fields["window_end"].month
            months = tuple(range(first, last + 1))
        if months:
            if pd.isna(fields["window_start"]):
                fields["window_start"] = pd.Timestamp(self.year, months[0], 1)
            if pd.isna(fields["window_end"]):
                fields["window_end"] = (pd.Timestamp(self.year, months[-1], 1)
                                        + pd.offsets.MonthEnd(0))
        elif pd.isna(fields["window_end"]):
            raise self.fail(where, "missing required key 'due' (or a recurrence)")
        lead = self.accountable(fields["lead_department"], where, tuple(towns))
        if not lead:
            raise self.fail(where, "missing required key 'lead_department' (who is "
                            "accountable for a done task)")
        if level != "township" and any(a in self.townships for a in lead):
            raise self.fail(where, f"lead_department names townships: level must be "
                            f"'township', not {level!r}")
        return Target(**fields, townships=tuple(towns), months=months, co_departments=co,
                      accountable=lead, recurrence=recurrence,
                      evidence_zh=self.text(item, "evidence_zh", where, ""))

    def names(self, item: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        """A list of department names (each a department of the plan, where it lists them)."""
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, f"{key} must be a list of department names")
        names = tuple(v.strip() for v in value)
        if self.departments:
            bad = [v for v in names if v not in self.departments]
            if bad:
                raise self.fail(where, f"{key} names {bad}, not departments of the plan "
                                "([plan] departments)")
        return names

    def accountable(self, lead: str, where: str, towns: tuple[str, ...]) -> tuple[str, ...]:
        """Who must do a task: ``lead_department`` split at 、, the group words expanded."""
        out: list[str] = []
        for part in (p.strip() for p in lead.split("、")):
            if not part:
                continue
            if part == ALL_TOWNSHIPS_ZH:
                out.extend(towns or self.townships)
            elif part == ALL_DEPARTMENTS_ZH:
                out.extend(self.departments)
            elif part in self.townships or part in self.departments or not self.departments:
                out.append(part)
            else:
                raise self.fail(where, f"lead_department names {part!r}, not a department "
                                f"or township of the plan (nor {ALL_TOWNSHIPS_ZH} or "
                                f"{ALL_DEPARTMENTS_ZH})")
        return tuple(dict.fromkeys(out))
