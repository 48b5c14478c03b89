"""What a campaign plan is: its targets, the codes they may use, and the :class:`Plan`.

:class:`Target` is one target (threshold, comparison, window, naming rule); :class:`Plan`
the frozen, validated whole, built by :func:`pingan_eval.plan.loader.load_plan`. The
tuples and tables here (:data:`INDICATORS`, :data:`CELL_CATEGORIES`,
:data:`STRUCTURAL_KINDS`, :data:`TASK_TABLES`, ...) are what a plan file may name.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from pingan_eval.errors import DataError, PlanError

#: Survey indicator codes, in report order (data/raw/README.md, codebook.csv).
INDICATORS = ("awareness", "participation", "satisfaction", "security", "legal_satisfaction")

#: Safe-cell categories of the register (data/raw/README.md, safe_cells.csv).
CELL_CATEGORIES = (
    "family", "school", "unit", "hospital", "religious_site", "enterprise", "village",
    "township", "hotel", "shop", "pharmacy", "clinic", "internet_cafe", "entertainment",
    "compound",
)

#: Structural target kinds and what each measures (see ``cells.structural_targets``).
STRUCTURAL_KINDS = {
    "townships_standard": "share of townships meeting the safe-construction standard",
    "townships_excellent": "share of townships that are excellent safe townships",
    "townships_excellent_count": "number of excellent safe townships",
    "category_rate": "county-wide naming rate of one safe-cell category",
}


@dataclass(frozen=True)
class TaskTable:
    """The layout of one task log (data/raw/README.md, tasks/).

    ``observed`` date columns say when a count was observed (a snapshot); ``events``
    date columns say when the task itself was done (late if after the due date).
    """

    level: str
    keys: tuple[str, ...]
    counts: tuple[str, ...]
    observed: tuple[str, ...] = ()
    events: tuple[str, ...] = ()


#: Task logs (``tasks/<table>.csv``) a plan's ``[[tasks]]`` may measure from.
TASK_TABLES: dict[str, TaskTable] = {
    "signboards": TaskTable("township", ("township",), ("large_boards", "themed_street"),
                            observed=("as_of",)),
    "visits": TaskTable("village", ("township", "village"),
                        ("households_total", "households_visited"), observed=("as_of",)),
    "messages": TaskTable("county", ("month",), ("subscribers", "messages_sent")),
    "cadre_test": TaskTable("township", ("township",), ("cadres_total", "cadres_tested"),
                            events=("test_date",)),
    "performances": TaskTable("county", ("month",), ("performances",)),
    "propaganda_walls": TaskTable("village", ("township", "village"), ("wall", "window")),
}

#: Comparison operators a target may use: value ``op`` threshold means "met".
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
}

LEVELS = ("county", "township", "village")

#: Levels a task may be kept at: a task ``measure = "done"`` (ledger, done-by-date with
#: evidence) may also be kept per ``department`` (each accountable department).
TASK_LEVELS = ("county", "department", "township", "village")

#: How a task is measured: a rate or a count from its log, or ``done`` (a piece of work
#: entered in the task ledger, ``tasks/ledger.csv``, with its date and evidence).
TASK_MEASURES = ("rate", "count", "done")

#: Recurrences of a task: one due date (``""``), ``monthly``, listed ``months``, or
#: ``kept`` (long-term kept, checked every month of its window).
RECURRENCES = ("", "monthly", "months", "kept")

#: Words of ``lead_department`` that stand for a group: every township, every department.
ALL_TOWNSHIPS_ZH = "各乡(镇)"
ALL_DEPARTMENTS_ZH = "各部门(单位)"

#: Survey estimators of the period summary: the month's design-based estimate, months
#: pooled over a window, the township-by-month model.
ESTIMATORS = ("direct", "pooled", "model")

#: Lonely-PSU rules a plan may declare (:class:`Estimation`).
LONELY_PSU = ("adjust", "remove", "fail")

#: Pooling windows a plan may declare (:func:`pingan_eval.survey.pooling.window_periods`).
POOLED_WINDOWS = ("rolling3", "quarter", "ytd", "rolling12")

#: Which estimator gives a survey target's official verdict, by area level, unless the
#: plan says otherwise: the county's own sample is large enough for its month; a
#: township's 5-6 villages are not, so its verdict pools the last three months (the
#: first pooling window). The township-by-month model is reported beside it but is not
#: the default: with 7 townships it shrinks a township that is really behind toward the
#: county (README, "Borrowing strength").
DEFAULT_OFFICIAL = (("county", "direct"), ("township", "pooled"))
NAMING_LEVELS = ("village", "township", "county")
SOURCES = ("survey", "register", "structural", "task")


@dataclass(frozen=True)
class Target:
    """One target of a plan: what is measured, against which threshold, by when.

    ``window_start``/``window_end`` are resolved dates (``pd.NaT`` where the plan sets
    none). Fields that do not apply to the target's source are empty strings, empty
    tuples, ``False`` or NaN.

    Tasks also carry ``co_departments`` (co-operating departments), ``accountable``
    (who must do the work: departments, or townships for a township task led by
    各乡(镇); resolved from ``lead_department``), ``recurrence`` (:data:`RECURRENCES`;
    the due months are ``months``) and ``evidence_zh`` (what evidence the ledger should
    give, for a ``done`` task).
    """

    code: str
    name_zh: str
    source: str
    threshold: float
    comparison: str = ">="
    level: str = "county"
    window_start: pd.Timestamp = pd.NaT
    window_end: pd.Timestamp = pd.NaT
    lead_department: str = ""
    plan_ref: str = ""
    measure: str = "rate"
    named_by: str = ""
    filed_with: str = ""
    category: str = ""
    kind: str = ""
    baseline: float = math.nan
    signatures: bool = False
    public_notice: bool = False
    table: str = ""
    column: str = ""
    numerator: str = ""
    denominator: str = ""
    date_column: str = ""
    by_township: tuple[tuple[str, float], ...] = ()
    townships: tuple[str, ...] = ()
    months: tuple[int, ...] = ()
    official: tuple[tuple[str, str], ...] = ()
    co_departments: tuple[str, ...] = ()
    accountable: tuple[str, ...] = ()
    recurrence: str = ""
    evidence_zh: str = ""

    def threshold_for(self, township: str | None = None) -> float:
        """The threshold, or the township's own one where the plan sets it."""
        return dict(self.by_township).get(township, self.threshold)

    def meets(self, value: Any, threshold: Any = None) -> Any:
        """``value <comparison> threshold`` (element-wise for arrays; NaN never meets)."""
        return COMPARISONS[self.comparison](value, self.threshold if threshold is None
                                            else threshold)


@dataclass(frozen=True)
class Estimation:
    """How the plan's survey targets are estimated (the plan's ``[estimation]`` table).

    Attributes
    ----------
    official : tuple of (level, estimator)
        The estimator (one of :data:`ESTIMATORS`) whose verdict is official, per area
        level (``county``, ``township``); a survey target may override it with its own
        ``official`` table.
    pooled_windows : tuple of str
        The pooling windows the summary reports (:data:`POOLED_WINDOWS`), in order; an
        official ``pooled`` verdict uses the first.
    lonely_psu : str
        What the variance does with a township whose respondents are in one village
        (:data:`LONELY_PSU`, as R's ``options(survey.lonely.psu=...)``): ``"adjust"``
        (default: that village's deviation from the county mean counts as its variance,
        so the county and the other townships are estimated as usual), ``"remove"``
        (it adds no variance) or ``"fail"`` (stop).
    """

    official: tuple[tuple[str, str], ...] = DEFAULT_OFFICIAL
    pooled_windows: tuple[str, ...] = ("rolling3", "ytd")
    lonely_psu: str = "adjust"


@dataclass(frozen=True)
class Plan:
    """A validated campaign plan. Build one with :func:`load_plan`.

    Attributes
    ----------
    county : str
        County name, e.g. ``"青河县"``.
    townships : tuple of str
        The county's townships, in the plan's order.
    year : int
        The plan year: every ``"MM-DD"`` date resolves to it.
    entries : tuple of Target
        Every target, in file order within the sections survey, cells, structural, tasks.
    title_zh : str
        The plan's Chinese title.
    source_year : int or None
        The year the source plan was written for (informational).
    path : str
        The file the plan was read from.
    estimation : Estimation
        Pooling windows and which estimator gives each level's official verdict.
    departments : tuple of str
        The county departments the plan holds to account (``[plan] departments``): the
        departments a task's ``lead_department`` / ``co_departments`` and the task
        ledger may name.
    """

    county: str
    townships: tuple[str, ...]
    year: int
    entries: tuple[Target, ...]
    title_zh: str = ""
    source_year: int | None = None
    path: str = ""
    estimation: Estimation = field(default_factory=Estimation)
    departments: tuple[str, ...] = ()
    _by_code: Mapping[str, Target] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {t.code: t for t in self.entries})

    def _section(self, source: str) -> tuple[Target, ...]:
        return tuple(t for t in self.entries if t.source == source)

    @property
    def survey(self) -> tuple[Target, ...]:
        """Survey indicator targets."""
        return self._section("survey")

    @property
    def cells(self) -> tuple[Target, ...]:
        """Safe-cell category targets (source ``"register"``)."""
        return self._section("register")

    @property
    def structural(self) -> tuple[Target, ...]:
        """Structural targets."""
        return self._section("structural")

    @property
    def tasks(self) -> tuple[Target, ...]:
        """Campaign task targets."""
        return self._section("task")

    @property
    def targets(self) -> pd.DataFrame:
        """Every target, one row each: ``code, name_zh, source, threshold, comparison,
        level, window_start, window_end, lead_department, named_by, filed_with, measure,
        baseline, plan_ref``, in plan order."""
        cols = ["code", "name_zh", "source", "threshold", "comparison", "level",
                "window_start", "window_end", "lead_department", "named_by", "filed_with",
                "measure", "baseline", "plan_ref"]
        return _frame(self.entries, cols)

    @property
    def survey_targets(self) -> pd.DataFrame:
        """Survey targets: ``code, name_zh, threshold, comparison, level``, in the order
        of :data:`INDICATORS`."""
        order = {c: i for i, c in enumerate(INDICATORS)}
        rows = sorted(self.survey, key=lambda t: order[t.code])
        return _frame(rows, ["code", "name_zh", "threshold", "comparison", "level"])

    @property
    def cell_categories(self) -> pd.DataFrame:
        """Safe-cell categories: ``category, code, name_zh, window_start, window_end,
        lead_department, named_by, filed_with, threshold, comparison, signatures,
        public_notice``, in plan order."""
        return _frame(self.cells, ["category", "code", "name_zh", "window_start",
                                   "window_end", "lead_department", "named_by", "filed_with",
                                   "threshold", "comparison", "signatures", "public_notice"])

    def target(self, code: str) -> Target:
        """The target with this code; :class:`PlanError` names the known codes if none."""
        try:
            return self._by_code[code]
        except KeyError:
            raise PlanError(f"{self.path or 'plan'}: no target {code!r}; "
                            f"known: {', '.join(self._by_code)}") from None

    def cell(self, category: str) -> Target:
        """The target of a safe-cell category (code ``cell_<category>``)."""
        return self.target(f"cell_{category}")

    def target_for(self, code: str, township: str | None = None) -> float:
        """The threshold of target ``code`` (the township's own one where the plan sets it).

        Examples
        --------
        >>> from pingan_eval.plan import load_plan
        >>> plan = load_plan()
        >>> plan.target_for("awareness"), plan.target_for("cell_township")
        (0.95, 1.0)
        >>> plan.target_for("signboards"), plan.target_for("signboards", "青河镇")
        (2.0, 10.0)
        """
        return float(self.target(code).threshold_for(township))

    def official_estimator(self, code: str, level: str) -> str:
        """The estimator whose verdict is official for survey target ``code`` at ``level``.

        Examples
        --------
        >>> from pingan_eval.plan import load_plan
        >>> plan = load_plan()
        >>> [plan.official_estimator("awareness", lv) for lv in ("county", "township")]
        ['direct', 'pooled']
        """
        own = dict(self.target(code).official)
        return own.get(level, dict(self.estimation.official).get(level, "direct"))

    def month_end(self, month: int) -> pd.Timestamp:
        """Last day of ``month`` of the plan year."""
        return pd.Timestamp(self.year, month, 1) + pd.offsets.MonthEnd(0)


#: What functions taking a plan accept: a Plan, a plan file, or None (the shipped plan).
PlanLike = Plan | str | os.PathLike | None


def as_plan(plan: PlanLike) -> Plan:
    """``plan`` itself, the plan read from a file, or the shipped plan for ``None``."""
    from pingan_eval.plan.loader import load_plan  # the loader builds on this module

    return plan if isinstance(plan, Plan) else load_plan(plan)


def resolve_as_of(as_of: str | dt.date | None, plan: Plan) -> pd.Timestamp:
    """The evaluation date: ``as_of`` as a day, or the plan year's last day when ``None``.

    Raises
    ------
    DataError
        ``as_of`` is not a date or a ``YYYY-MM-DD`` string.

    Examples
    --------
    >>> from pingan_eval.plan import load_plan
    >>> plan = load_plan()
    >>> resolve_as_of("2026-11-30", plan).date(), resolve_as_of(None, plan).date()
    (datetime.date(2026, 11, 30), datetime.date(2026, 12, 31))
    """
    if as_of is None:
        return pd.Timestamp(plan.year, 12, 31)
    if isinstance(as_of, dt.date):
        return pd.Timestamp(as_of).normalize()
    if isinstance(as_of, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", as_of.strip()):
        try:
            return pd.Timestamp(as_of.strip())
        except ValueError:
            pass
    raise DataError(f"as_of must be a date or 'YYYY-MM-DD', got {as_of!r}")


def _frame(entries: tuple[Target, ...] | list[Target], cols: list[str]) -> pd.DataFrame:
    data = {c: [getattr(t, c) for t in entries] for c in cols}
    out = pd.DataFrame(data, columns=cols)
    for c in ("window_start", "window_end"):
        if c in out:
            out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
    for c in ("threshold", "baseline"):
        if c in out:
            out[c] = out[c].astype("float64")
    return out


def replace_target(plan: Plan, code: str, **changes: Any) -> Plan:
    """A copy of ``plan`` with one target's fields changed (no re-validation).

    Meant for what-if analyses and tests, e.g. a lower threshold.

    Examples
    --------
    >>> from pingan_eval.plan import load_plan
    >>> p = replace_target(load_plan(), "cell_hotel", threshold=0.9)
    >>> p.target_for("cell_hotel"), load_plan().target_for("cell_hotel")
    (0.9, 0.95)
    """
    plan.target(code)  # raises PlanError for an unknown code
    entries = tuple(replace(t, **changes) if t.code == code else t for t in plan.entries)
    return replace(plan, entries=entries)
