"""What the report notebooks display: tables, the plain-language paragraph, methods.

The notebooks stay thin: every table they show is built here from the period summary
(:func:`pingan_eval.summary.period_summary`), so the numbers a reader sees are the
summary's numbers, formatted (``94.3%``) and labelled in Chinese. Tables come back as
DataFrames with Chinese column headers; :func:`style` turns one into a deterministic
pandas Styler (verdict colours, greyed flagged rows, fixed table id).

Estimates flagged ``suppress`` (NCHS presentation standards) are never shown as numbers:
their cells read "—" and the flag column says "数据不足，不予显示"; ``review`` rows are
shown in grey with "需谨慎解读".
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from . import labels, paths
from .plan import Plan
from .summary import (
    ensure_prepared,
    period_summary,
    read_summary,
    resolve_plan,
    trailing_periods,
    trend_summary,
)

if TYPE_CHECKING:
    from IPython.display import HTML

    from .registers import RegisterTables

__all__ = [
    "BREAKDOWN_BY",
    "ReportInputs",
    "breakdowns",
    "breakdown_note",
    "breakdown_table",
    "change_table",
    "comparison_table",
    "fmt_ci",
    "fmt_pct",
    "headline_paragraph",
    "headline_table",
    "html",
    "load_inputs",
    "methods_table",
    "period_zh",
    "provenance_table",
    "register_table",
    "style",
    "task_detail",
]

#: Breakdown variables of a township report, in display order.
BREAKDOWN_BY = ("village", "sex", "age_group", "ethnicity")
#: Columns of :func:`breakdowns` (and of :func:`all_breakdowns` after its ``area``).
BREAKDOWN_COLUMNS = ["breakdown", "level", "indicator", "name_zh", "estimate", "se", "ci_low",
                     "ci_high", "df", "n", "deff", "target", "flag", "flag_reason"]
#: Display order of the levels of the census margins (others follow, sorted).
LEVEL_ORDER: dict[str, tuple[str, ...]] = {
    "sex": ("男", "女"),
    "age_group": ("18-34", "35-49", "50-64", "65+"),
    "ethnicity": ("哈萨克族", "汉族", "回族", "蒙古族", "其他"),
}
_DASH = "—"
_N = "样本量/单位数"
_VERDICT_BG = {"达标": "#D6EAF8", "未达标": "#FADBD8", "尚无定论": "#FDEBD0"}
_PACKAGES = ("pingan-eval", "numpy", "pandas", "scipy", "matplotlib", "papermill",
             "nbconvert")


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report notebook reads, resolved once by :func:`load_inputs`."""

    period: str
    raw_dir: Path
    processed_dir: Path
    plan: Plan
    summary: pd.DataFrame
    trend: pd.DataFrame
    breakdowns_path: Path | None = None
    registers: RegisterTables | None = None


def load_inputs(period: str, *, raw_dir: str | os.PathLike | None = None,
                processed_dir: str | os.PathLike | None = None,
                plan_path: str | os.PathLike | None = None,
                summary_path: str | os.PathLike | None = None,
                trend_path: str | os.PathLike | None = None,
                breakdowns_path: str | os.PathLike | None = None,
                registers_dir: str | os.PathLike | None = None) -> ReportInputs:
    """Resolve a report notebook's parameters into its inputs.

    Parameters
    ----------
    period : str
        ``YYYY-MM``.
    raw_dir, processed_dir : path or None
        ``None``: the shipped sample (:data:`pingan_eval.paths.SAMPLE_RAW_DIR`) and
        :data:`pingan_eval.paths.PROCESSED_DIR`, whatever the working directory.
    plan_path : path or None
        ``None``: the shipped plan.
    summary_path, trend_path : path or None
        CSV files of :func:`~pingan_eval.summary.period_summary` (this period) and
        :func:`~pingan_eval.summary.trend_summary`, as ``pingan-eval batch`` writes them
        once for all notebooks. ``None``: compute them here, preparing any survey wave
        that has no processed data yet (:func:`~pingan_eval.summary.ensure_prepared`);
        the trend covers the twelve months up to `period`.
    breakdowns_path : path or None
        CSV of :func:`all_breakdowns`, written once by the batch; ``None``:
        :func:`area_breakdowns` computes them in the notebook.
    registers_dir : path or None
        Folder of :func:`pingan_eval.registers.write_register_tables`, written once by
        the batch; ``None``: the registers are judged here, once, for the summary (when
        computed here), :func:`register_detail` and :func:`task_detail`.

    Returns
    -------
    ReportInputs

    Raises
    ------
    ReportError
        The summary file has no row for `period`, or `period` has no survey wave.
    """
    from .errors import ReportError
    from .registers import judge_registers, read_register_tables

    raw = Path(raw_dir) if raw_dir is not None else paths.SAMPLE_RAW_DIR
    processed = Path(processed_dir) if processed_dir is not None else paths.PROCESSED_DIR
    plan = resolve_plan(plan_path)
    registers = (read_register_tables(registers_dir) if registers_dir is not None
                 else judge_registers(period, raw_dir=raw, plan=plan))
    computing = summary_path is None or trend_path is None
    months = ensure_prepared(raw, processed) if computing else []
    if summary_path is not None:
        summary = read_summary(summary_path)
        summary = summary[summary["period"] == period].reset_index(drop=True)
        if summary.empty:
            raise ReportError(f"{summary_path}: no rows for period {period!r}")
    else:
        summary = period_summary(period, raw_dir=raw, processed_dir=processed, plan=plan,
                                 registers=registers)
    if trend_path is not None:
        trend = read_summary(trend_path)
    else:
        trend = trend_summary(trailing_periods(period, months), processed_dir=processed,
                              plan=plan)
    cached = Path(breakdowns_path) if breakdowns_path is not None else None
    return ReportInputs(period, raw, processed, plan, summary, trend, cached, registers)


def fmt_pct(x: float, digits: int = 1) -> str:
    """A proportion as a percentage; NaN as a dash.

    Examples
    --------
    >>> fmt_pct(0.9432), fmt_pct(1.0), fmt_pct(float("nan"))
    ('94.3%', '100.0%', '—')
    """
    return _DASH if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def fmt_ci(low: float, high: float, digits: int = 1) -> str:
    """A 95 % interval as ``low–high`` in percent; a dash when a bound is missing.

    Examples
    --------
    >>> fmt_ci(0.921, 0.964)
    '92.1%–96.4%'
    """
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return _DASH
    return f"{fmt_pct(low, digits)}–{fmt_pct(high, digits)}"


def _fmt_value(x: float, measure: str) -> str:
    if measure == "count":
        return _DASH if not np.isfinite(x) else f"{x:g}"
    return fmt_pct(x)


def _fmt_target(x: float, measure: str, comparison: str = ">=") -> str:
    sign = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}.get(comparison, comparison)
    if not np.isfinite(x):
        return _DASH
    if measure != "count" and x == 1 and comparison == ">=":
        return "100%"  # all of them: "≥100%" would read oddly
    whole = measure != "count" and float(100 * x).is_integer()
    return sign + (fmt_pct(x, 0) if whole else _fmt_value(x, measure))


def _measure(plan: Plan, code: str, source: str = "") -> tuple[str, str]:
    """How to print a summary row's value: ``count`` or ``rate``, and the comparison.

    Task rows of the summary are completion shares whatever the task's own measure.
    """
    try:
        t = plan.target(code)
    except ValueError:
        return "rate", ">="
    return ("rate" if source == "task" else t.measure), t.comparison


def headline_table(summary: pd.DataFrame, area: str, *,
                   plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """Every target of ``area`` with estimate, 95 % CI, target, verdict and flag, in Chinese.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output (one period).
    area : str
        A township, or the county.
    plan : Plan, path or None
        For the count-vs-rate format of each target; ``None`` reads the shipped plan.

    Returns
    -------
    pandas.DataFrame
        One row per indicator of ``area`` in summary order, columns 指标, 数据来源,
        估计值, 95%置信区间, 目标, 结论, 可靠性 (the flag, with its reasons unless ok),
        样本量/单位数 (respondents with an answer; for registers the eligible units or
        the denominator), all text. Register rows have no interval ("—", they are
        complete counts); a suppressed estimate reads "—".

    Raises
    ------
    ReportError
        ``area`` has no row in the summary.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"area": "青河镇", "indicator": ["awareness", "participation"],
    ...     "name_zh": ["知晓率", "参与率"], "source": "survey", "estimate": [0.9432, 0.91],
    ...     "ci_low": [0.921, 0.80], "ci_high": [0.964, 0.97], "target": 0.95,
    ...     "verdict": "undecided", "flag": ["ok", "suppress"],
    ...     "flag_reason": ["", "n_eff<30"], "n": [211, 20]})
    >>> t = headline_table(s, "青河镇")
    >>> t.loc[0, ["指标", "估计值", "95%置信区间", "结论", "可靠性"]].tolist()
    ['知晓率', '94.3%', '92.1%–96.4%', '尚无定论', '可靠']
    >>> t.loc[1, ["估计值", "可靠性"]].tolist()
    ['—', '数据不足，不予显示（有效样本量不足30）']
    """
    plan = resolve_plan(plan)
    rows = _area_rows(summary, area)
    out = []
    for r in rows.itertuples():
        measure, comparison = _measure(plan, r.indicator, r.source)
        hidden = r.flag == "suppress"
        out.append({
            "指标": r.name_zh,
            "数据来源": labels.zh("source", r.source),
            "估计值": _DASH if hidden else _fmt_value(r.estimate, measure),
            "95%置信区间": _DASH if hidden else fmt_ci(r.ci_low, r.ci_high),
            "目标": _fmt_target(r.target, measure, comparison),
            "结论": labels.zh("verdict", r.verdict),
            "可靠性": _flag_text(r.flag, r.flag_reason),
            _N: _DASH if not np.isfinite(r.n) else f"{r.n:.0f}",
        })
    return pd.DataFrame(out, columns=["指标", "数据来源", "估计值", "95%置信区间", "目标",
                                      "结论", "可靠性", _N])


def _flag_text(flag: str, reason: object) -> str:
    """The flag in Chinese, with its reasons unless the estimate is ok."""
    why = labels.reasons_zh(reason) if flag != "ok" else ""
    return labels.zh("flag", flag) + (f"（{why}）" if why else "")


def _area_rows(summary: pd.DataFrame, area: str) -> pd.DataFrame:
    from .errors import ReportError

    rows = summary[summary["area"] == area]
    if rows.empty:
        known = ", ".join(dict.fromkeys(summary["area"].astype(str)))
        raise ReportError(f"no summary rows for {area!r}; the summary has: {known}")
    return rows


def _names(rows: pd.DataFrame) -> str:
    return "、".join(rows["name_zh"].astype(str))


def period_zh(period: str) -> str:
    """``YYYY-MM`` in Chinese.

    Examples
    --------
    >>> period_zh("2026-11")
    '2026年11月'
    """
    p = pd.Period(period, freq="M")
    return f"{p.year}年{p.month}月"


def headline_paragraph(summary: pd.DataFrame, area: str) -> str:
    """A short plain-language reading of :func:`headline_table`, generated from the summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output (one period).
    area : str
        A township, or the county.

    Returns
    -------
    str
        Markdown: one paragraph on the survey indicators (which are met, not met,
        undecided, and what "undecided" means; which are suppressed or to be read with
        care), then one sentence each on safe cells, structural targets and tasks
        where the summary has them.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"period": "2026-11", "area": "青河镇",
    ...     "indicator": ["awareness", "participation"], "name_zh": ["知晓率", "参与率"],
    ...     "source": "survey", "estimate": [0.97, 0.90], "ci_low": [0.96, 0.86],
    ...     "ci_high": [0.98, 0.93], "target": 0.95, "verdict": ["met", "not_met"],
    ...     "flag": "ok", "flag_reason": ""})
    >>> print(headline_paragraph(s, "青河镇"))
    **2026年11月，青河镇**居民抽样调查的2项指标中：**知晓率达标**（95%置信区间下限不低于目标）；**参与率未达标**（95%置信区间上限低于目标）。
    """
    rows = _area_rows(summary, area)
    period = str(rows["period"].iloc[0])
    survey = rows[rows["source"] == "survey"]
    parts = []
    if len(survey):
        said = []
        for verdict, why in (("met", "95%置信区间下限不低于目标"),
                             ("not_met", "95%置信区间上限低于目标"),
                             ("undecided", "95%置信区间包含目标值，本月样本尚不足以判断")):
            hit = survey[survey["verdict"] == verdict]
            if len(hit):
                said.append(f"**{_names(hit)}{labels.zh('verdict', verdict)}**（{why}）")
        text = (f"**{period_zh(period)}，{area}**居民抽样调查的{len(survey)}项指标中："
                + "；".join(said) + "。")
        for flag, what in (("review", "需谨慎解读"), ("suppress", "估计值不予显示")):
            hit = survey[survey["flag"] == flag]
            for reason, group in hit.groupby("flag_reason", sort=True):
                codes = [c for c in str(reason).split(";") if c]
                why = "；".join(labels.zh("flag_reason", c)
                               + (f"（{labels.FLAG_REASON_NOTES[c]}）"
                                  if c in labels.FLAG_REASON_NOTES else "") for c in codes)
                text += f"{_names(group)}{'：' + why if why else ''}，{what}。"
        parts.append(text)
    for source, what in (("register", "平安细胞命名率"), ("structural", "结构性目标"),
                         ("task", "工作任务")):
        block = rows[rows["source"] == source]
        if block.empty:
            continue
        counts = [f"{(block['verdict'] == v).sum()}项{labels.zh('verdict', v)}"
                  for v in labels.VERDICTS if (block["verdict"] == v).any()]
        text = f"{what}共{len(block)}项：" + "，".join(counts)
        missed = block[block["verdict"] == "not_met"]
        if len(missed):
            text += f"；未达标的是{_names(missed)}"
        parts.append(text + "。")
    return "\n\n".join(parts)


def style(table: pd.DataFrame, *, uuid: str, caption: str | None = None,
          align: str = "center") -> Styler:
    """A deterministic Styler: no index, verdict colours, suppressed rows in grey.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of this module (Chinese headers, text cells).
    uuid : str
        Fixed id of the HTML table (distinct per table of a page), so that the HTML
        is the same on every run.
    caption : str, optional
        Table caption.
    align : str
        CSS ``text-align`` of the cells (``"left"`` for tables of long text).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"指标": ["知晓率"], "结论": ["达标"], "可靠性": ["可靠"]})
    >>> 'id="T_demo"' in style(t, uuid="demo").to_html()
    True
    """
    styler = table.style.set_uuid(uuid).hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    verdict_cols = [c for c in table.columns if c == "结论" or str(c).endswith("结论")]
    if verdict_cols:
        styler = styler.map(lambda v: f"background-color: {_VERDICT_BG[v]}"
                            if v in _VERDICT_BG else "", subset=verdict_cols)
    if "可靠性" in table.columns:
        grey = table["可靠性"].str.startswith(labels.SUPPRESSED)
        styler = styler.apply(lambda row: ["color: #8C8C8C" if grey[row.name] else ""
                                           for _ in row], axis=1)
    return styler.set_table_styles([
        {"selector": "th", "props": "text-align: center; background-color: #F2F2F2;"
                                    " padding: 4px 8px;"},
        {"selector": "td", "props": f"text-align: {align}; padding: 3px 8px;"
                                    + (" white-space: nowrap;" if align == "center" else "")},
        {"selector": "caption", "props": "caption-side: top; font-weight: bold;"
                                         " text-align: left; padding: 4px 0;"},
    ])


def html(table: pd.DataFrame, *, uuid: str, caption: str | None = None,
         align: str = "center") -> HTML:
    """:func:`style` as an :class:`IPython.display.HTML` object for ``display()``.

    A Styler shown in a notebook also stores its text form, which carries a memory
    address; this object's text form is fixed, so committed notebook outputs are the same
    from run to run.

    Examples
    --------
    >>> import pandas as pd
    >>> out = html(pd.DataFrame({"指标": ["知晓率"]}), uuid="demo")
    >>> 'id="T_demo"' in out.data, repr(out).startswith("<IPython.core.display.HTML")
    (True, True)
    """
    from IPython.display import HTML

    return HTML(style(table, uuid=uuid, caption=caption, align=align).to_html())


def comparison_table(summary: pd.DataFrame, *, source: str = "survey",
                     plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """Areas x indicators: ``estimate（verdict）`` per cell, county first.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output (one period).
    source : str
        Which rows: ``survey`` (default), ``register`` or ``task``.
    plan : Plan, path or None
        For the count-vs-rate format of each target; ``None`` reads the shipped plan.

    Returns
    -------
    pandas.DataFrame
        Column 地区, then one column per indicator (its Chinese name). A suppressed
        estimate reads "数据不足"; a ``review`` one is marked "*".

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"area": ["青河县", "青河镇"], "indicator": "awareness",
    ...     "name_zh": "知晓率", "source": "survey", "estimate": [0.97, 0.96],
    ...     "verdict": ["met", "undecided"], "flag": ["ok", "review"]})
    >>> comparison_table(s).values.tolist()
    [['青河县', '97.0%（达标）'], ['青河镇', '96.0%*（尚无定论）']]
    """
    plan = resolve_plan(plan)
    rows = summary[summary["source"] == source]
    cells = []
    for r in rows.itertuples():
        if r.flag == "suppress":
            text = "数据不足"
        else:
            star = "*" if r.flag == "review" else ""
            value = _fmt_value(r.estimate, _measure(plan, r.indicator, r.source)[0])
            text = f"{value}{star}（{labels.zh('verdict', r.verdict)}）"
        cells.append((r.area, r.name_zh, text))
    table = pd.DataFrame(cells, columns=["地区", "指标", "值"])
    if table.empty:
        return pd.DataFrame(columns=["地区"])
    wide = table.pivot(index="地区", columns="指标", values="值")
    wide = wide.reindex(index=list(dict.fromkeys(table["地区"])),
                        columns=list(dict.fromkeys(table["指标"]))).fillna(_DASH)
    wide.columns.name = None
    return wide.reset_index()


def register_table(summary: pd.DataFrame, area: str, *,
                   plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """The register rows (safe cells, tasks, structural) of ``area``, in Chinese.

    Same columns as :func:`headline_table` minus the interval (registers are complete
    counts); 样本量 is renamed 应创建/应完成数 (the denominator).
    """
    table = headline_table(summary[summary["source"] != "survey"], area, plan=plan)
    return table.drop(columns=["95%置信区间", "可靠性"]).rename(
        columns={_N: "应创建/应完成数"})


def task_detail(area: str, period: str, *,
                raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                plan: Plan | str | os.PathLike | None = None,
                only_open: bool = True,
                registers: RegisterTables | None = None) -> pd.DataFrame:
    """The campaign-task log rows of ``area`` (per village, month or township), in Chinese.

    Parameters
    ----------
    area : str
        A township, or the county (its month-by-month tasks).
    period : str
        ``YYYY-MM``: the tasks are judged on its last day, as in the summary.
    raw_dir : path
        Dataset folder with ``tasks/``.
    plan : Plan, path or None
        ``None`` reads the shipped plan.
    only_open : bool
        Keep only rows not (yet) met: what is left to do.
    registers : RegisterTables, optional
        The registers already judged for ``period`` (``ReportInputs.registers``: the
        batch's cache, or judged once by :func:`load_inputs`); ``None``: judge the task
        logs here.

    Returns
    -------
    pandas.DataFrame
        Columns 任务, 村(社区)/月份, 要求, 完成, 截止日期, 结论, from
        :func:`pingan_eval.tasks.task_completion`, in its order.
    """
    plan = resolve_plan(plan)
    done = _register_tables(period, raw_dir, plan, registers).tasks
    if done.empty:
        return pd.DataFrame(columns=_TASK_COLUMNS)
    rows = done[done["township"].replace("", plan.county) == area]
    if only_open:
        rows = rows[rows["verdict"] != "met"]
    out = pd.DataFrame({
        "任务": rows["name_zh"],
        "村(社区)/月份": (rows["village"] + rows["month"]).replace("", _DASH),
        "要求": [_DASH if not np.isfinite(v) else f"{v:g}" for v in rows["required"]],
        "完成": [_DASH if not np.isfinite(v) else f"{v:g}" for v in rows["achieved"]],
        "截止日期": pd.to_datetime(rows["due"]).dt.strftime("%Y-%m-%d"),
        "结论": [labels.zh("verdict", v) for v in rows["verdict"]],
    })
    return out.reset_index(drop=True)


def _register_tables(period: str, raw_dir: str | os.PathLike, plan: Plan,
                     registers: RegisterTables | None) -> RegisterTables:
    """``registers`` when given, else the registers judged here."""
    from .registers import judge_registers

    return registers if registers is not None else judge_registers(
        period, raw_dir=raw_dir, plan=plan)


def breakdowns(design, area: str, *, plan: Plan | str | os.PathLike | None = None,
               by: Sequence[str] = BREAKDOWN_BY, level: float = 0.95) -> pd.DataFrame:
    """Survey indicators of ``area`` by village, sex, age group and ethnicity, flagged.

    Parameters
    ----------
    design : SurveyDesign
        The period's design (:func:`pingan_eval.prepare.load_design`).
    area : str
        A township (domain ``township == area``) or the county (the whole design).
    plan : Plan, path or None
        Indicators, names and targets; ``None`` reads the shipped plan.
    by : sequence of str
        Breakdown variables (columns of the design's data).
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``breakdown, level, indicator, name_zh, estimate, se, ci_low, ci_high,
        df, n, deff, target, flag, flag_reason``; breakdowns in `by` order, levels in
        census order (:data:`LEVEL_ORDER`, villages by name), indicators in plan order.

    Notes
    -----
    Each cell is a domain estimate over the whole design (R:
    ``svyby(~I(x == 1), ~township + sex, design, svyciprop, method = "logit")``, then the
    rows of ``area``): rows outside the domain keep weight zero, so the variance and
    degrees of freedom are those of the full design. Flags: :func:`pingan_eval.reliability`.
    """
    plan = resolve_plan(plan)
    county = area == plan.county
    rows = _breakdown_rows(design, plan, by, level, per_township=not county)
    if not county:
        rows = rows[rows["area"] == area]
    return _order_breakdowns(rows, plan, by).drop(columns="area")


def all_breakdowns(design, *, plan: Plan | str | os.PathLike | None = None,
                   by: Sequence[str] = BREAKDOWN_BY, level: float = 0.95) -> pd.DataFrame:
    """:func:`breakdowns` for the county and every township at once, with an ``area`` column.

    ``pingan-eval batch`` computes this once a month and hands it to every notebook
    (``breakdowns_path``): one ``proportion(by=["township", b])`` per breakdown and
    indicator serves all townships, so the work does not grow with townships squared.
    The county rows have no village breakdown (villages are township rows).
    """
    plan = resolve_plan(plan)
    county = _breakdown_rows(design, plan, [b for b in by if b != "village"], level,
                             per_township=False)
    towns = _breakdown_rows(design, plan, by, level, per_township=True)
    areas = {a: i for i, a in enumerate((plan.county, *plan.townships))}
    both = pd.concat([county, towns], ignore_index=True)
    both = both[both["area"].isin(areas)]
    parts = [_order_breakdowns(g, plan, by) for _, g in
             sorted(both.groupby("area", sort=False), key=lambda kv: areas[kv[0]])]
    return pd.concat(parts, ignore_index=True)


def _breakdown_rows(design, plan: Plan, by: Sequence[str], level: float, *,
                    per_township: bool) -> pd.DataFrame:
    from .reliability import reliability

    frames = []
    for b in by:
        for target in plan.survey:
            est = design.proportion(target.code, by=["township", b] if per_township else [b],
                                    level=level)
            if not per_township:
                est = est.assign(township=plan.county)
            est = reliability(est.reset_index(drop=True)).rename(
                columns={b: "level", "township": "area"})
            frames.append(est.assign(breakdown=b, indicator=target.code,
                                     name_zh=target.name_zh, target=target.threshold))
    out = pd.concat(frames, ignore_index=True)
    out["level"] = out["level"].astype(str)
    return out


def _order_breakdowns(rows: pd.DataFrame, plan: Plan, by: Sequence[str]) -> pd.DataFrame:
    rank = [_level_rank(b, lv) for b, lv in zip(rows["breakdown"], rows["level"], strict=True)]
    codes = {t.code: i for i, t in enumerate(plan.survey)}
    out = rows.assign(_b=rows["breakdown"].map({b: i for i, b in enumerate(by)}), _l=rank,
                      _i=rows["indicator"].map(codes))
    out = out.sort_values(["_b", "_l", "level", "_i"], kind="stable")
    return out[["area", *BREAKDOWN_COLUMNS]].reset_index(drop=True)


def read_breakdowns(path: str | os.PathLike, area: str, *,
                    by: Sequence[str] = BREAKDOWN_BY) -> pd.DataFrame:
    """The rows of ``area`` from a CSV of :func:`all_breakdowns`, as :func:`breakdowns` gives.

    Raises
    ------
    ReportError
        The file lacks a column, or has no row for ``area``.
    """
    from .errors import ReportError

    table = pd.read_csv(path, dtype={"area": str, "breakdown": str, "level": str,
                                     "indicator": str}, keep_default_na=False,
                        na_values=[""], encoding="utf-8")
    missing = [c for c in ("area", *BREAKDOWN_COLUMNS) if c not in table.columns]
    if missing:
        raise ReportError(f"{path}: not a breakdown table; missing column(s) {missing}")
    rows = table[(table["area"] == area) & table["breakdown"].isin(list(by))]
    if rows.empty:
        raise ReportError(f"{path}: no breakdown rows for {area!r}")
    rows = rows.assign(flag_reason=rows["flag_reason"].fillna(""))
    return rows[BREAKDOWN_COLUMNS].reset_index(drop=True)


def area_breakdowns(area: str, inputs: ReportInputs, *,
                    by: Sequence[str] = BREAKDOWN_BY) -> pd.DataFrame:
    """What a notebook shows as breakdowns: the batch's cached table, else computed here."""
    if inputs.breakdowns_path is not None:
        return read_breakdowns(inputs.breakdowns_path, area, by=by)
    from .prepare import load_design

    return breakdowns(load_design(inputs.period, inputs.processed_dir), area,
                      plan=inputs.plan, by=by)


def _level_rank(breakdown: str, level: str) -> int:
    order = LEVEL_ORDER.get(breakdown, ())
    return order.index(level) if level in order else len(order)


def breakdown_table(table: pd.DataFrame, breakdown: str) -> pd.DataFrame:
    """One breakdown of :func:`breakdowns` as groups x indicators, in Chinese.

    Cells read ``estimate（low–high）``; ``review`` cells end in "*"; suppressed cells
    read "数据不足，不予显示". The last column, 样本量, is the group's largest number of
    respondents with an answer (the indicators differ by their "don't know" answers).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"breakdown": "sex", "level": ["男", "女"],
    ...     "indicator": "awareness", "name_zh": "知晓率", "estimate": [0.97, 0.5],
    ...     "ci_low": [0.95, 0.1], "ci_high": [0.98, 0.9], "n": [100, 3],
    ...     "flag": ["ok", "suppress"]})
    >>> breakdown_table(t, "sex").values.tolist()
    [['男', '97.0%（95.0%–98.0%）', '100'], ['女', '数据不足，不予显示', '3']]
    """
    rows = table[table["breakdown"] == breakdown]
    cells = []
    for r in rows.itertuples():
        if r.flag == "suppress":
            text = labels.SUPPRESSED
        else:
            star = "*" if r.flag == "review" else ""
            text = f"{fmt_pct(r.estimate)}{star}（{fmt_ci(r.ci_low, r.ci_high)}）"
        cells.append((r.level, r.name_zh, text))
    head = labels.zh("breakdown", breakdown)
    long = pd.DataFrame(cells, columns=[head, "指标", "值"])
    wide = long.pivot(index=head, columns="指标", values="值").reindex(
        index=list(dict.fromkeys(long[head])), columns=list(dict.fromkeys(long["指标"])))
    wide.columns.name = None
    n = rows.assign(level=rows["level"].astype(str)).groupby("level", sort=False)["n"].max()
    wide["样本量"] = [f"{v:.0f}" for v in n.reindex(wide.index)]
    return wide.reset_index()


def breakdown_note(table: pd.DataFrame, breakdown: str) -> str:
    """One sentence on what :func:`breakdown_table` hides or marks for ``breakdown``, and why.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"breakdown": "village", "level": ["甲村", "乙村"],
    ...     "name_zh": "知晓率", "flag": "suppress", "flag_reason": "ci_undefined"})
    >>> breakdown_note(t, "village")
    '2个估计不予显示（无法计算置信区间）。'
    """
    rows = table[table["breakdown"] == breakdown]
    parts = []
    for flag, what in (("suppress", "不予显示"), ("review", "需谨慎解读（表中标*）")):
        hit = rows[rows["flag"] == flag]
        if len(hit):
            codes = dict.fromkeys(c for r in hit["flag_reason"] for c in str(r).split(";") if c)
            why = "；".join(labels.zh("flag_reason", c) for c in codes)
            parts.append(f"{len(hit)}个估计{what}（{why}）")
    return "，".join(parts) + "。" if parts else "全部估计可靠。"


def change_table(trend: pd.DataFrame, area: str, period: str) -> pd.DataFrame:
    """This month against last month for the survey indicators of ``area``, in Chinese.

    Parameters
    ----------
    trend : pandas.DataFrame
        :func:`pingan_eval.summary.trend_summary` output holding ``period`` and the
        month before it.
    area : str
        A township or the county.
    period : str
        ``YYYY-MM``: the current month.

    Returns
    -------
    pandas.DataFrame
        Columns 指标, 本月, 上月, 变化（百分点）, 变化的95%置信区间, p值, 说明. The
        change and its interval come from :func:`pingan_eval.change.change` (independent
        waves, Welch-Satterthwaite df). A month flagged ``suppress`` gives dashes.
    """
    from .change import change

    prev = str(pd.Period(period, freq="M") - 1)
    rows = trend[(trend["area"] == area) & trend["period"].astype(str).isin([period, prev])]
    cur = rows[rows["period"].astype(str) == period].set_index("indicator")
    old = rows[rows["period"].astype(str) == prev].set_index("indicator")
    out = []
    for code in cur.index:
        name = cur.at[code, "name_zh"]
        if code not in old.index:
            out.append((name, fmt_pct(cur.at[code, "estimate"]), _DASH, _DASH, _DASH, _DASH,
                        "上月无数据"))
            continue
        if "suppress" in (cur.at[code, "flag"], old.at[code, "flag"]):
            out.append((name, _DASH, _DASH, _DASH, _DASH, _DASH, labels.SUPPRESSED))
            continue
        d = change(cur.loc[[code], ["estimate", "se", "df"]],
                   old.loc[[code], ["estimate", "se", "df"]], by=[]).iloc[0]
        sig = "变化显著" if d["p_value"] < 0.05 else "变化不显著"
        out.append((name, fmt_pct(cur.at[code, "estimate"]), fmt_pct(old.at[code, "estimate"]),
                    _points(d["estimate"]),
                    f"{_points(d['ci_low'])} ～ {_points(d['ci_high'])}",
                    f"{d['p_value']:.3f}", sig))
    return pd.DataFrame(out, columns=["指标", "本月", "上月", "变化（百分点）",
                                      "变化的95%置信区间", "p值", "说明"])


def _points(x: float) -> str:
    """A difference of proportions in signed percentage points, never "-0.0"."""
    value = round(100 * float(x), 1)
    return f"{value + 0.0:+.1f}" if value != 0 else "±0.0"


def methods_table(summary: pd.DataFrame, area: str, *,
                  raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                  processed_dir: str | os.PathLike = paths.PROCESSED_DIR) -> pd.DataFrame:
    """How the survey numbers of ``area`` were made: sample, response, design effect, weights.

    Parameters
    ----------
    summary : pandas.DataFrame
        The period summary (for the design effects of ``area``).
    area : str
        A township or the county.
    raw_dir, processed_dir : path
        Dataset folder (fieldwork counts) and processed folder (respondents,
        ``validation.json``).

    Returns
    -------
    pandas.DataFrame
        Two text columns, 项目 and 内容, one row per fact. Every value is deterministic
        for given data (no dates, versions or paths).
    """
    from .prepare import load_respondents
    from .readers import read_fieldwork, read_frame

    rows = _area_rows(summary, area)
    period = str(rows["period"].iloc[0])
    county = rows["area_level"].iloc[0] == "county"
    resp = load_respondents(period, processed_dir)
    if not county:
        resp = resp[resp["township"] == area]
    frame = read_frame(Path(raw_dir) / "frame.csv")
    field = read_fieldwork(Path(raw_dir) / "fieldwork" / f"{period}.csv", frame)
    if not county:
        field = field[field["township"] == area]
    selected, responded = field["households_selected"].sum(), field["households_responded"].sum()
    report = json.loads((Path(processed_dir) / period / "validation.json").read_text(
        encoding="utf-8"))
    weighting = report.get("weighting", {})
    kish = weighting.get("kish_deff", np.nan)
    if not county:
        kish = next((t["kish_deff"] for t in weighting.get("townships", [])
                     if t["township"] == area), np.nan)
    survey = rows[rows["source"] == "survey"]
    deffs = "；".join(f"{r.name_zh} {r.deff:.2f}" for r in survey.itertuples()
                     if np.isfinite(r.deff))
    counts = report.get("counts", {})
    facts = [
        ("调查月份", period_zh(period)),
        ("样本量", f"{len(resp)}名受访者，来自{resp['village'].nunique()}个抽中村(社区)"),
        ("户应答率", f"{fmt_pct(responded / selected) if selected else _DASH}"
                     f"（抽中{selected:.0f}户，完成{responded:.0f}户）"),
        ("全县数据核查", f"读入{counts.get('read', _DASH)}行，保留{counts.get('kept', _DASH)}行，"
                        f"剔除{counts.get('rejected', _DASH)}行（明细见 validation.md）"),
        ("抽样设计", "按乡镇分层，村(社区)为初级抽样单位（按户数PPS抽取），"
                     "抽中户内随机访问1名18岁以上居民"),
        ("加权", "基础权数=村入样概率与户内抽样的倒数×户内成人数；按村调整无应答；"
                 "再按人口普查的性别、年龄组、民族分布迭代比例加权（raking）"),
        ("加权设计效应（Kish）", f"{kish:.2f}" if np.isfinite(kish) else _DASH),
        ("设计效应（各指标）", deffs or _DASH),
        ("方差估计", "泰勒线性化，分层整群、有放回近似；比例的置信区间为logit区间，"
                     "与R survey包 svyciprop(method = \"logit\") 一致"),
        ("判定规则", "95%置信区间下限≥目标为达标；上限<目标为未达标；区间包含目标为尚无定论"),
        ("可靠性规则", "按美国国家卫生统计中心（NCHS）比例数据呈现标准：有效样本量过小或"
                       "置信区间过宽的估计不予显示，精度较低的估计标注“需谨慎解读”"),
    ]
    return pd.DataFrame(facts, columns=["项目", "内容"])


def provenance_table(period: str, *,
                     raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                     processed_dir: str | os.PathLike = paths.PROCESSED_DIR) -> pd.DataFrame:
    """Where the numbers come from: input file hashes, package versions, code commit.

    These values change between machines and runs (versions, commit), so a notebook
    shows this table in a cell nbval does not compare.

    Returns
    -------
    pandas.DataFrame
        Two text columns, 项目 and 内容: one row per input file (SHA-256: the survey
        inputs from ``validation.json``, the registers and task logs hashed now), the
        Python and package versions, the git commit.
    """
    from .fileio import sha256_file

    report = json.loads((Path(processed_dir) / period / "validation.json").read_text(
        encoding="utf-8"))
    hashes = dict(report.get("inputs", {}))
    for sub in ("registers", "tasks"):
        folder = Path(raw_dir) / sub
        if folder.is_dir():
            hashes.update({f"{sub}/{f.name}": sha256_file(f)
                           for f in sorted(folder.iterdir()) if f.is_file()})
    facts = [(f"数据文件 {name}", f"SHA-256 {digest}") for name, digest in sorted(hashes.items())]
    facts.append(("Python", platform.python_version()))
    for pkg in _PACKAGES:
        try:
            facts.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            facts.append((pkg, "未安装"))
    facts.append(("代码版本（git commit）", _git_commit()))
    return pd.DataFrame(facts, columns=["项目", "内容"])


def _git_commit() -> str:
    """HEAD of the project checkout, "+ 未提交的修改" when dirty; a note outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.PROJ_ROOT, check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=paths.PROJ_ROOT, check=True, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "未知（不是git检出目录）"
    return head + ("（有未提交的修改）" if dirty else "")


# -- safe-cell register detail --------------------------------------------------------------

_CELL_COLUMNS = ["类别", "应创建", "有效命名", "程序缺陷", "已摘牌", "命名率", "目标", "结论",
                 "创建期限", "期限状态"]
_COUNTY_CELL_COLUMNS = ["乡镇", "类别数", "达标类别", "逾期类别", "程序缺陷", "达到平安建设标准",
                        "优秀平安乡镇"]
_DEFECT_COLUMNS = ["单位编号", "乡镇", "村(社区)", "类别", "问题", "说明"]
_TASK_COLUMNS = ["任务", "村(社区)/月份", "要求", "完成", "截止日期", "结论"]


@dataclass(frozen=True)
class RegisterDetail:
    """The safe-cell section of a report: :func:`register_detail` reads the register once."""

    cells: pd.DataFrame
    defects: pd.DataFrame
    note: str


def register_detail(area: str, period: str, *,
                    raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                    plan: Plan | str | os.PathLike | None = None,
                    registers: RegisterTables | None = None) -> RegisterDetail:
    """Safe-cell naming, procedure defects and skipped checks of ``area``, in Chinese.

    The register is judged on the last day of ``period``, as in the summary; pass
    ``registers`` (``ReportInputs.registers``: the batch's cache, or judged once by
    :func:`load_inputs`) to use tables already judged.

    Returns
    -------
    RegisterDetail
        ``cells``: for a township one row per category in plan order, columns 类别,
        应创建, 有效命名, 程序缺陷, 已摘牌, 命名率, 目标, 结论, 创建期限, 期限状态 (where the
        category stands against its creation window, :data:`pingan_eval.cells.WINDOW_STATUSES`);
        for the county one row per township (:func:`pingan_eval.cells.township_standards`),
        columns 乡镇, 类别数, 达标类别, 逾期类别, 程序缺陷, 达到平安建设标准, 优秀平安乡镇.
        ``defects``: every procedure defect of ``area`` (all townships for the county),
        columns 单位编号, 乡镇, 村(社区), 类别, 问题, 说明; defective namings do not count
        toward the rate, and this is where the report shows them. ``note``: a sentence
        naming the checks the register could not support (its columns are absent).
        Without a register (a survey-only dataset) the tables are empty and the note
        says so.
    """
    from .cells import DEFECT_RULES

    plan = resolve_plan(plan)
    county = area == plan.county
    tables = _register_tables(period, raw_dir, plan, registers)
    if not tables.has_register:
        return RegisterDetail(pd.DataFrame(columns=_COUNTY_CELL_COLUMNS if county
                                           else _CELL_COLUMNS),
                              pd.DataFrame(columns=_DEFECT_COLUMNS),
                              "未提供平安细胞台账，未作程序核查。")
    found = tables.defects
    if not county:
        found = found[found["township"] == area]
    skipped = list(tables.skipped_checks["rule"])
    note = ("台账缺少相应字段，以下程序核查未执行："
            + "、".join(DEFECT_RULES[c].label_zh for c in skipped) + "。" if skipped
            else "台账字段齐全，全部程序核查均已执行。")
    defects = pd.DataFrame({
        "单位编号": found["unit_id"], "乡镇": found["township"],
        "村(社区)": found["village"].replace("", _DASH),
        "类别": [labels.zh("category", c) for c in found["category"]],
        "问题": found["label_zh"], "说明": found["detail_zh"],
    }).reset_index(drop=True)
    table = (_county_cells(tables.standards) if county
             else _township_cells(tables.naming_rates, area, plan))
    return RegisterDetail(table, defects, note)


def _county_cells(per: pd.DataFrame) -> pd.DataFrame:
    yes_no = {True: "是", False: "否"}
    return pd.DataFrame({
        "乡镇": per["township"], "类别数": per["categories"],
        "达标类别": per["categories_met"], "逾期类别": per["overdue"],
        "程序缺陷": per["defects"], "达到平安建设标准": per["standard"].map(yes_no),
        "优秀平安乡镇": per["excellent"].map(yes_no)})


def _township_cells(rates: pd.DataFrame, area: str, plan: Plan) -> pd.DataFrame:
    order = {c: i for i, c in enumerate(plan.cell_categories["category"])}
    rows = rates[rates["township"] == area]
    rows = rows.sort_values("category", key=lambda c: c.map(order), kind="stable")
    window = [f"{s:%m-%d}至{e:%m-%d}" if pd.notna(s) and pd.notna(e) else _DASH
              for s, e in zip(rows["window_start"], rows["window_end"], strict=True)]
    return pd.DataFrame({
        "类别": [labels.zh("category", c) for c in rows["category"]],
        "应创建": rows["eligible"].astype(int).to_numpy(),
        "有效命名": rows["named"].astype(int).to_numpy(),
        "程序缺陷": rows["defective"].astype(int).to_numpy(),
        "已摘牌": rows["revoked"].astype(int).to_numpy(),
        "命名率": [fmt_pct(r) for r in rows["rate"]],
        "目标": [_fmt_target(t, "rate") for t in rows["target"]],
        "结论": [labels.zh("verdict", v) for v in rows["verdict"]],
        "创建期限": window,
        "期限状态": [labels.zh("window_status", w) for w in rows["window_status"]],
    })
