"""The tables a report shows: headline, comparison, register, breakdown, change.

Every table is built from the period summary (:func:`pingan_eval.summary.period_summary`),
so the numbers a reader sees are the summary's numbers, formatted (``94.3%``) and labelled
in Chinese, with Chinese column headers. Estimates flagged ``suppress`` (NCHS presentation
standards) are never shown as numbers: their cells read "—" and the flag column says
"数据不足，不予显示"; ``review`` rows are shown in grey with "需谨慎解读".
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from pingan_eval import labels
from pingan_eval.plan import Plan, as_plan
from pingan_eval.report.formatting import (
    DASH,
    N_HEADER,
    area_rows,
    estimator_zh,
    flag_text,
    fmt_ci,
    fmt_pct,
    fmt_points,
    fmt_target,
    fmt_value,
    measure_of,
    span_zh,
)
from pingan_eval.summary.official import official_rows

#: Columns of :func:`headline_table`.
HEADLINE_COLUMNS = ["指标", "数据来源", "估计依据", "估计值", "95%置信区间", "目标", "结论",
                    "可靠性", N_HEADER]

#: Columns of :func:`estimates_table`.
ESTIMATES_COLUMNS = ["指标", "估计", "覆盖月份", "估计值", "95%置信区间", "结论", "正式结论"]


def headline_table(summary: pd.DataFrame, area: str, *,
                   plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """Every target of ``area`` with its official verdict, its basis and the other estimates.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output (one period).
    area : str
        A township, or the county.
    plan : Plan, path or None
        Which estimator is official (``[estimation]``) and the count-vs-rate format of
        each target; ``None`` reads the shipped plan.

    Returns
    -------
    pandas.DataFrame
        One row per indicator of ``area`` in summary order, all text: 指标, 数据来源,
        估计依据 (the official estimator: 多月合并估计（months）, 本月直接估计, 模型估计;
        台账全数统计 for registers), 估计值, 95%置信区间, 目标, 结论 (the official
        verdict), 可靠性 (the flag, with its reasons unless ok), 样本量/单位数
        (respondents with an answer; for registers the eligible units or the
        denominator). The other estimates of each survey target are
        :func:`estimates_table`. Register rows have no interval ("—", they are complete
        counts); a suppressed estimate reads "—".

    Raises
    ------
    ReportError
        ``area`` has no row in the summary.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"period": "2026-11", "area": "青河镇", "area_level": "township",
    ...     "indicator": ["awareness"] * 2 + ["participation"], "source": "survey",
    ...     "name_zh": ["知晓率"] * 2 + ["参与率"], "estimator": ["direct", "model", "model"],
    ...     "window_start": "2026-11", "estimate": [0.9432, 0.962, 0.91],
    ...     "ci_low": [0.921, 0.953, 0.80], "ci_high": [0.964, 0.975, 0.97], "target": 0.95,
    ...     "verdict": ["undecided", "met", "undecided"], "flag": ["ok", "ok", "suppress"],
    ...     "flag_reason": ["", "", "n_eff<30"], "n": [211, 211, 20]})
    >>> t = headline_table(s, "青河镇")
    >>> from dataclasses import replace
    >>> from pingan_eval.plan import Estimation, load_plan
    >>> plan = replace(load_plan(), estimation=Estimation(official=(("township", "model"),)))
    >>> t = headline_table(s, "青河镇", plan=plan)
    >>> t.loc[0, ["指标", "估计依据", "估计值", "结论"]].tolist()
    ['知晓率', '模型估计', '96.2%', '达标']
    >>> t.loc[1, ["估计值", "可靠性"]].tolist()
    ['—', '数据不足，不予显示（有效样本量不足30）']
    """
    plan = as_plan(plan)
    every = area_rows(summary, area)
    out = []
    for r in official_rows(every, plan).itertuples():
        measure, comparison = measure_of(plan, r.indicator, r.source)
        hidden = r.flag == "suppress"
        out.append({
            "指标": r.name_zh,
            "数据来源": labels.zh("source", r.source),
            "估计依据": estimator_zh(pd.Series(r._asdict())),
            "估计值": DASH if hidden else fmt_value(r.estimate, measure),
            "95%置信区间": DASH if hidden else fmt_ci(r.ci_low, r.ci_high),
            "目标": fmt_target(r.target, measure, comparison),
            "结论": labels.zh("verdict", r.verdict),
            "可靠性": flag_text(r.flag, r.flag_reason),
            N_HEADER: DASH if not np.isfinite(r.n) else f"{r.n:.0f}",
        })
    return pd.DataFrame(out, columns=HEADLINE_COLUMNS)


def estimates_table(summary: pd.DataFrame, area: str, *,
                    plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """Every estimate of ``area``'s survey targets side by side: direct, pooled, model.

    Returns
    -------
    pandas.DataFrame
        One row per survey indicator and estimate, in summary order: 指标, 估计
        (本月直接估计, 多月合并估计, 模型估计), 覆盖月份, 估计值, 95%置信区间, 结论,
        正式结论 ("是" on the row whose verdict :func:`headline_table` shows).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"period": "2026-11", "area": "青河镇", "area_level": "township",
    ...     "indicator": "awareness", "source": "survey", "name_zh": "知晓率",
    ...     "estimator": ["direct", "pooled"], "window_start": ["2026-11", "2026-09"],
    ...     "estimate": [0.9432, 0.962], "ci_low": [0.921, 0.953], "ci_high": [0.964, 0.975],
    ...     "verdict": ["undecided", "met"], "flag": "ok"})
    >>> estimates_table(s, "青河镇")[["估计", "覆盖月份", "结论", "正式结论"]].values.tolist()
    [['本月直接估计', '2026年11月', '尚无定论', ''], ['多月合并估计', '2026年9—11月', '达标', '是']]
    """
    plan = as_plan(plan)
    every = area_rows(summary, area)
    survey = every[every["source"] == "survey"]
    if "estimator" not in survey:
        survey = survey.assign(estimator="direct", window_start=survey["period"])
    keys = ["indicator", "estimator", "window_start"]
    chosen = set(map(tuple, official_rows(survey, plan)[keys].to_numpy()))
    out = []
    for r in survey.itertuples():
        hidden = r.flag == "suppress"
        out.append({
            "指标": r.name_zh, "估计": labels.zh("estimator", r.estimator),
            "覆盖月份": span_zh(str(r.window_start), str(r.period)),
            "估计值": DASH if hidden else fmt_pct(r.estimate),
            "95%置信区间": DASH if hidden else fmt_ci(r.ci_low, r.ci_high),
            "结论": labels.zh("verdict", r.verdict),
            "正式结论": "是" if (r.indicator, r.estimator, r.window_start) in chosen else "",
        })
    return pd.DataFrame(out, columns=ESTIMATES_COLUMNS)


def comparison_table(summary: pd.DataFrame, *, source: str = "survey",
                     plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """Areas x indicators: the official ``estimate（verdict）`` per cell, county first.

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
    plan = as_plan(plan)
    if "area_level" in summary:  # the county and townships; departments have their page
        summary = summary[summary["area_level"] != "department"]
    rows = official_rows(summary[summary["source"] == source], plan)
    cells = []
    for r in rows.itertuples():
        if r.flag == "suppress":
            text = "数据不足"
        else:
            star = "*" if r.flag == "review" else ""
            value = fmt_value(r.estimate, measure_of(plan, r.indicator, r.source)[0])
            text = f"{value}{star}（{labels.zh('verdict', r.verdict)}）"
        cells.append((r.area, r.name_zh, text))
    table = pd.DataFrame(cells, columns=["地区", "指标", "值"])
    if table.empty:
        return pd.DataFrame(columns=["地区"])
    wide = table.pivot(index="地区", columns="指标", values="值")
    wide = wide.reindex(index=list(dict.fromkeys(table["地区"])),
                        columns=list(dict.fromkeys(table["指标"]))).fillna(DASH)
    wide.columns.name = None
    return wide.reset_index()


def register_table(summary: pd.DataFrame, area: str, *,
                   plan: Plan | str | os.PathLike | None = None) -> pd.DataFrame:
    """The register rows (safe cells, tasks, structural) of ``area``, in Chinese.

    Same columns as :func:`headline_table` minus the interval (registers are complete
    counts); 样本量 is renamed 应创建/应完成数 (the denominator).
    """
    table = headline_table(summary[summary["source"] != "survey"], area, plan=plan)
    return table.drop(columns=["估计依据", "95%置信区间", "可靠性"]).rename(
        columns={N_HEADER: "应创建/应完成数"})


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
        Columns 指标, 本月, 上月, 变化（百分点）, 变化的95%置信区间, p值, 说明, of the
        months' direct estimates. The change and its interval come from
        :func:`pingan_eval.survey.change.change` (independent waves, Welch-Satterthwaite
        df). A month flagged ``suppress`` gives dashes.
    """
    from pingan_eval.survey.change import change

    prev = str(pd.Period(period, freq="M") - 1)
    if "estimator" in trend:
        trend = trend[trend["estimator"] == "direct"]
    rows = trend[(trend["area"] == area) & trend["period"].astype(str).isin([period, prev])]
    cur = rows[rows["period"].astype(str) == period].set_index("indicator")
    old = rows[rows["period"].astype(str) == prev].set_index("indicator")
    out = []
    for code in cur.index:
        name = cur.at[code, "name_zh"]
        if code not in old.index:
            out.append((name, fmt_pct(cur.at[code, "estimate"]), DASH, DASH, DASH, DASH,
                        "上月无数据"))
            continue
        if "suppress" in (cur.at[code, "flag"], old.at[code, "flag"]):
            out.append((name, DASH, DASH, DASH, DASH, DASH, labels.SUPPRESSED))
            continue
        d = change(cur.loc[[code], ["estimate", "se", "df"]],
                   old.loc[[code], ["estimate", "se", "df"]], by=[]).iloc[0]
        sig = "变化显著" if d["p_value"] < 0.05 else "变化不显著"
        out.append((name, fmt_pct(cur.at[code, "estimate"]), fmt_pct(old.at[code, "estimate"]),
                    fmt_points(d["estimate"]),
                    f"{fmt_points(d['ci_low'])} ～ {fmt_points(d['ci_high'])}",
                    f"{d['p_value']:.3f}", sig))
    return pd.DataFrame(out, columns=["指标", "本月", "上月", "变化（百分点）",
                                      "变化的95%置信区间", "p值", "说明"])


def advice_table(advice, *, plan: Plan | str | os.PathLike | None = None,
                 villages: tuple[int, ...] = (5, 6, 8, 10, 12, 15)) -> pd.DataFrame:
    """Households per village and month a township needs to decide a quarter, in Chinese.

    Parameters
    ----------
    advice : SampleAdvice
        :func:`pingan_eval.summary.advice.sample_advice`.
    plan : Plan, path or None
        Indicator names; ``None`` reads the shipped plan.
    villages : tuple of int
        The numbers of villages per township shown as columns.

    Returns
    -------
    pandas.DataFrame
        One row per indicator and true rate: 指标, 假定真实值, then one column per number
        of villages (每乡镇N个村): the households per village and month needed
        (``42户``), or ``不可行`` where no number up to the search limit decides it.
    """
    plan = as_plan(plan)
    names = {t.code: t.name_zh for t in plan.survey}
    rows = []
    table = advice.advice
    for (code, truth), g in table.groupby(["variable", "truth"], sort=False):
        g = g.set_index("villages")
        row = {"指标": names.get(code, code), "假定真实值": fmt_pct(truth, 0)}
        for m in villages:
            if m not in g.index:
                row[f"每乡镇{m}个村"] = DASH
                continue
            r = g.loc[m]
            row[f"每乡镇{m}个村"] = f"{int(r['households'])}户" if r["feasible"] else "不可行"
        rows.append(row)
    return pd.DataFrame(rows)
