"""The plain-language sentences of a report: its title, the headline paragraph, notes.

They are Markdown; every name in them that comes from the plan or the data (area and
indicator names) is escaped with :func:`~pingan_eval.report.formatting.md_escape`, so a
township called ``<img src=x onerror=...>`` is printed, not run.
"""

from __future__ import annotations

import pandas as pd

from pingan_eval import labels
from pingan_eval.plan import Plan, as_plan
from pingan_eval.report.formatting import (
    area_rows,
    basis_zh,
    levels_basis_zh,
    md_escape,
    period_zh,
    span_zh,
)
from pingan_eval.summary.official import official_rows


def _names(rows: pd.DataFrame) -> str:
    return "、".join(md_escape(n) for n in rows["name_zh"].astype(str))


def report_heading(area: str, period: str, *, overview: bool = False) -> str:
    """The Markdown title of a report: ``# <area>平安建设评估报告（<period>）``, or
    ``…总览（…）`` for the county overview; the name escaped (:func:`md_escape`).

    Examples
    --------
    >>> report_heading("青河镇", "2026-11")
    '# 青河镇平安建设评估报告（2026年11月）'
    >>> report_heading("<b>x</b>", "2026-11", overview=True)
    '# &lt;b&gt;x&lt;/b&gt;平安建设评估总览（2026年11月）'
    """
    kind = "总览" if overview else "报告"
    return f"# {md_escape(area)}平安建设评估{kind}（{period_zh(period)}）"


def headline_paragraph(summary: pd.DataFrame, area: str, *,
                       plan: Plan | str | None = None) -> str:
    """A short plain-language reading of :func:`headline_table`, generated from the summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output (one period).
    area : str
        A township, or the county.
    plan : Plan, path or None
        Which estimator's verdict is official; ``None`` reads the shipped plan.

    Returns
    -------
    str
        Markdown: one paragraph on the survey indicators (the basis of their official
        verdicts; which are met, not met, undecided, and what "undecided" means; how many
        the month's direct estimate alone decides, where the official estimate is
        another; which are suppressed or to be read with care), then one sentence each
        on safe cells, structural targets and tasks where the summary has them.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"period": "2026-11", "area": "青河镇", "area_level": "township",
    ...     "indicator": ["awareness", "awareness", "participation", "participation"],
    ...     "name_zh": ["知晓率", "知晓率", "参与率", "参与率"], "source": "survey",
    ...     "estimator": ["direct", "pooled"] * 2,
    ...     "window_start": ["2026-11", "2026-09"] * 2,
    ...     "estimate": [0.97, 0.97, 0.90, 0.91], "ci_low": [0.93, 0.96, 0.84, 0.88],
    ...     "ci_high": [0.99, 0.98, 0.95, 0.94], "target": 0.95,
    ...     "verdict": ["undecided", "met", "undecided", "not_met"],
    ...     "flag": "ok", "flag_reason": ""})
    >>> print(headline_paragraph(s, "青河镇"))  # doctest: +NORMALIZE_WHITESPACE
    **2026年11月，青河镇**居民抽样调查的2项指标（结论依据多月合并估计（9—11月）：合并这几个月的调查样本（同一村各月视为同一抽样单位），反映这几个月的平均水平）中：**知晓率达标**（95%置信区间下限不低于目标）；**参与率未达标**（95%置信区间上限低于目标）。仅用本月样本的直接估计可下结论的为0项，依据多月合并估计为2项。
    """
    every = area_rows(summary, area)
    rows = official_rows(every, as_plan(plan))
    period = str(rows["period"].iloc[0])
    survey = rows[rows["source"] == "survey"]
    parts = []
    if len(survey):
        said = []
        for verdict, why in (("met", "95%置信区间下限不低于目标"),
                             ("not_met", "95%置信区间上限低于目标"),
                             ("undecided", "95%置信区间包含目标值，现有数据尚不足以判断")):
            hit = survey[survey["verdict"] == verdict]
            if len(hit):
                said.append(f"**{_names(hit)}{labels.zh('verdict', verdict)}**（{why}）")
        text = (f"**{period_zh(period)}，{md_escape(area)}**居民抽样调查的{len(survey)}项指标"
                f"（{_basis(survey)}）中：" + "；".join(said) + "。")
        text += _direct_alone(every, survey) + _no_respondents(every, survey, area)
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


def basis_note(summary: pd.DataFrame, *, plan: Plan | str | None = None) -> str:
    """One sentence for a county page: what each level's survey verdicts rest on.

    ``summary`` is the period summary; ``plan`` names the official estimators (``None``:
    the shipped plan). See :func:`pingan_eval.report.formatting.levels_basis_zh`.
    """
    return levels_basis_zh(official_rows(summary, as_plan(plan)))


def _basis(survey: pd.DataFrame) -> str:
    """结论依据…: one basis, or each basis with the indicators it applies to."""
    bases = {}
    for _, r in survey.iterrows():
        bases.setdefault(basis_zh(r), []).append(md_escape(r["name_zh"]))
    if len(bases) == 1:
        return f"结论依据{next(iter(bases))}"
    return "结论依据：" + "；".join(f"{'、'.join(v)}为{k}" for k, v in bases.items())


def _direct_alone(every: pd.DataFrame, survey: pd.DataFrame) -> str:
    """How many the month's direct estimate alone decides, where the official one is not it."""
    if "estimator" not in every or (survey["estimator"] == "direct").all():
        return ""
    direct = every[(every["source"] == "survey") & (every["estimator"] == "direct")]
    decided = int((direct["verdict"] != "undecided").sum())
    official_decided = int((survey["verdict"] != "undecided").sum())
    return (f"仅用本月样本的直接估计可下结论的为{decided}项，"
            f"依据{labels.zh('estimator', survey['estimator'].iloc[0])}为{official_decided}项。")


def _no_respondents(every: pd.DataFrame, survey: pd.DataFrame, area: str) -> str:
    """Why the month's direct estimates are missing, where the official ones are others."""
    if "estimator" not in every or (survey["estimator"] == "direct").all():
        return ""
    direct = every[(every["source"] == "survey") & (every["estimator"] == "direct")]
    if direct.empty or not direct["flag_reason"].eq("no_estimate").all():
        return ""
    return (f"本月{md_escape(area)}{labels.zh('flag_reason', 'no_estimate')}（没有受访者），"
            "没有本月直接估计，结论依据此前各月的样本。")


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
    if rows.empty:
        return f"本月没有分组估计（{labels.zh('flag_reason', 'no_estimate')}）。"
    parts = []
    modelled = rows["flag_reason"].astype(str).str.split(";").map(lambda c: "model" in c)
    if modelled.any():
        parts.append(f"{int(modelled.sum())}个估计为模型估计（以本村样本为主，借用本乡镇的"
                     "估计值；区间为模型的95%区间，不是仅用本村样本的直接估计）")
    for flag, what in (("suppress", "不予显示"), ("review", "需谨慎解读（表中标*）")):
        hit = rows[rows["flag"] == flag]
        if len(hit):
            codes = dict.fromkeys(c for r in hit["flag_reason"] for c in str(r).split(";") if c)
            why = "；".join(labels.zh("flag_reason", c) for c in codes)
            parts.append(f"{len(hit)}个估计{what}（{why}）")
    return "，".join(parts) + "。" if parts else "全部估计可靠。"


def advice_paragraph(advice) -> str:
    """What :func:`~pingan_eval.report.tables.advice_table` answers, and today's design.

    ``advice`` is :func:`pingan_eval.summary.advice.sample_advice`'s result (with no
    advice yet, one sentence saying why).
    """
    if advice.advice.empty:
        return ("本年度已调查的月份不足两个月，尚不能估计同一村逐月的波动，"
                "抽样方案建议从有两个月数据时起提供。")
    truths = "或".join(f"{t:.0%}" for t in dict.fromkeys(advice.advice["truth"]))
    power = advice.power
    return (f"根据{span_zh(advice.months[0], advice.months[-1])}的调查数据估计村间差异、"
            f"同一村逐月波动和村内差异，下表给出：若某乡镇的真实比率为{truths}，要在一个季度内"
            f"（合并3个月样本的直接估计，95%置信区间）以{power:.0%}的把握判定其达标与否，"
            f"每乡镇需抽取的村数及每村每月需访问的户数。现行方案每乡镇约"
            f"{advice.villages_per_township:.1f}个村、每村每月约{advice.households_per_village:.0f}户。"
            "村间差异不随月份平均掉，所以增加村数比增加每村户数更有效；"
            "“不可行”指每村每月访问200户也不够。模型估计借用其他月份和乡镇的数据，"
            "所需样本少于此表。")
