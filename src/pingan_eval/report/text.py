"""The plain-language sentences of a report: the headline paragraph, breakdown notes.
"""

from __future__ import annotations

import pandas as pd

from pingan_eval import labels
from pingan_eval.report.formatting import area_rows, period_zh


def _names(rows: pd.DataFrame) -> str:
    return "、".join(rows["name_zh"].astype(str))


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
    rows = area_rows(summary, area)
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
