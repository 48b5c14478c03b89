"""Chinese labels for the codes the library uses, in one place.

Computations speak in codes (``awareness``, ``met``, ``suppress``); reports speak
Chinese. A plan file may name its own indicators, categories and tasks (its ``name_zh``
wins, see :func:`pingan_eval.summary.period_summary`); these tables are the defaults and
cover every code the shipped plan and the survey core produce. :func:`zh` never fails:
an unknown code is shown as itself, so a new code is visible rather than lost.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Survey indicators ("三率一感" and 政法干警满意度) and the 0-100 score indices.
INDICATORS: dict[str, str] = {
    "awareness": "知晓率",
    "participation": "参与率",
    "satisfaction": "满意率",
    "security": "安全感",
    "legal_satisfaction": "政法干警满意度",
    "satisfaction_score": "满意度指数",
    "security_score": "安全感指数",
}

#: Verdicts of :func:`pingan_eval.survey.targets.evaluate` and the register tables.
VERDICTS: dict[str, str] = {
    "met": "达标",
    "not_met": "未达标",
    "undecided": "尚无定论",
    "not_due": "未到期",
    "no_data": "无数据",
}

#: Reliability flags of :func:`pingan_eval.survey.reliability` (NCHS presentation standards).
FLAGS: dict[str, str] = {
    "ok": "可靠",
    "review": "需谨慎解读",
    "suppress": "数据不足，不予显示",
}

#: Reason codes of :data:`pingan_eval.survey.reliability.REASONS` (and registers), in Chinese.
FLAG_REASONS: dict[str, str] = {
    "no_estimate": "无有效回答",
    "ci_undefined": "无法计算置信区间",
    "n_eff<30": "有效样本量不足30",
    "ci_width>=0.30": "置信区间宽度达30个百分点以上",
    "rel_ci_width>130%": "置信区间相对宽度超过130%",
    "complement_rel_ci_width>130%": "区间宽度超过未达比例的1.3倍",
    "df<8": "自由度不足8",
    "estimate_0_or_1": "估计值为0%或100%",
    "no_eligible": "无应创建单位",
    "model": "模型估计",
}

#: What a reason means for the reader, added to the report's plain-language paragraph.
FLAG_REASON_NOTES: dict[str, str] = {
    "df<8": "抽中村(社区)过少，区间的可靠性有限",
    "complement_rel_ci_width>130%": "估计值接近100%时，未达部分的估计不够精确",
    "estimate_0_or_1": "样本中无人给出相反回答，区间只是近似",
}

#: The one sentence shown in place of a suppressed estimate.
SUPPRESSED = FLAGS["suppress"]

#: Safe-cell (平安细胞) categories.
CATEGORIES: dict[str, str] = {
    "family": "优秀平安家庭",
    "school": "优秀平安校园",
    "unit": "优秀平安单位",
    "hospital": "优秀平安医院",
    "religious_site": "优秀平安宗教活动场所",
    "enterprise": "优秀平安企业",
    "village": "优秀平安村(社区)",
    "township": "平安乡镇(复验)",
    "hotel": "平安旅店",
    "shop": "平安店铺",
    "pharmacy": "平安药店",
    "clinic": "平安诊所",
    "internet_cafe": "平安网吧",
    "entertainment": "平安文化娱乐场所",
    "compound": "平安小区",
}

#: Campaign tasks (plan 4.(1).2).
TASKS: dict[str, str] = {
    "visits": "入户走访率",
    "signboards": "大型宣传牌",
    "themed_street": "综治平安宣传一条街",
    "propaganda_wall": "村(社区)宣传墙",
    "propaganda_window": "村(社区)宣传橱窗",
    "cadre_test": "干部职工应知应会测试",
    "performances": "广场文艺演出(每月)",
    "messages": "宣传短信",
}

#: Structural targets (plan section 2).
STRUCTURAL: dict[str, str] = {
    "standard_townships": "达标乡镇比例",
    "standard_units": "达标部门(单位)比例",
    "standard_villages": "达标村(社区)比例",
    "excellent_townships": "优秀平安乡镇比例",
    "excellent_first_year": "当年争创优秀平安乡镇数",
    "family_creation": "优秀平安家庭创建率",
}

#: Where a number comes from.
SOURCES: dict[str, str] = {
    "survey": "抽样调查",
    "register": "平安细胞台账",
    "task": "工作任务台账",
    "structural": "结构性目标",
}

#: Estimators of the survey rows (:data:`pingan_eval.plan.ESTIMATORS`), short.
ESTIMATORS: dict[str, str] = {
    "direct": "本月直接估计",
    "pooled": "多月合并估计",
    "model": "模型估计",
}

#: What each estimator rests on, for the reader (the basis of a verdict).
ESTIMATOR_BASIS: dict[str, str] = {
    "direct": "仅用本月调查样本",
    "pooled": "合并这几个月的调查样本（同一村各月视为同一抽样单位），反映这几个月的平均水平",
    "model": "以本月调查样本为主，借用本乡镇本年度此前各月及其他乡镇的数据；"
             "区间已计入模型参数的不确定性",
}

#: Area levels.
AREA_LEVELS: dict[str, str] = {"county": "全县", "township": "乡镇", "department": "部门"}
#: Levels that name or file a safe cell (the plan's ``named_by`` / ``filed_with``).
NAMING_LEVELS: dict[str, str] = {"village": "村(社区)", "township": "乡镇", "county": "县"}

#: Breakdown variables of the survey.
BREAKDOWNS: dict[str, str] = {
    "village": "村(社区)",
    "kind": "村/社区",
    "sex": "性别",
    "age_group": "年龄组",
    "ethnicity": "民族",
    "township": "乡镇",
}

#: Column headers of the report tables.
COLUMNS: dict[str, str] = {
    "period": "月份",
    "area": "地区",
    "area_level": "层级",
    "indicator": "指标代码",
    "name_zh": "指标",
    "source": "数据来源",
    "estimate": "估计值",
    "se": "标准误",
    "ci": "95%置信区间",
    "ci_low": "置信下限",
    "ci_high": "置信上限",
    "df": "自由度",
    "n": "样本量",
    "deff": "设计效应",
    "target": "目标",
    "verdict": "结论",
    "flag": "可靠性",
    "flag_reason": "说明",
    "change": "较上月变化",
    "p_value": "p值",
    "category": "平安细胞类别",
    "rate": "命名率",
    "eligible": "应创建数",
    "named": "已命名数",
}

#: Where a safe-cell category stands against its creation window
#: (:data:`pingan_eval.registers.cells.WINDOW_STATUSES`).
WINDOW_STATUSES: dict[str, str] = {
    "not_started": "未开始",
    "open": "创建期内",
    "closed_on_time": "按期完成",
    "overdue": "未按期完成",
}

#: Every table above, by the name :func:`zh` accepts.
TABLES: dict[str, Mapping[str, str]] = {
    "indicator": {**INDICATORS, **STRUCTURAL, **TASKS},
    "verdict": VERDICTS,
    "flag": FLAGS,
    "flag_reason": FLAG_REASONS,
    "category": CATEGORIES,
    "window_status": WINDOW_STATUSES,
    "task": TASKS,
    "structural": STRUCTURAL,
    "source": SOURCES,
    "estimator": ESTIMATORS,
    "area_level": AREA_LEVELS,
    "naming_level": NAMING_LEVELS,
    "breakdown": BREAKDOWNS,
    "column": COLUMNS,
}


def zh(kind: str, code: object) -> str:
    """The Chinese label of ``code`` in table ``kind``; an unknown code as itself.

    Parameters
    ----------
    kind : str
        One of ``indicator`` (survey, structural and task codes), ``verdict``,
        ``flag``, ``flag_reason``, ``category``, ``window_status``, ``task``,
        ``structural``, ``source``, ``estimator``, ``area_level``, ``breakdown``,
        ``column``.
    code : object
        The code; NaN/None gives an empty string.

    Raises
    ------
    KeyError
        ``kind`` names no table (a programming error, not bad data).

    Examples
    --------
    >>> zh("verdict", "undecided")
    '尚无定论'
    >>> zh("indicator", "legal_satisfaction")
    '政法干警满意度'
    >>> zh("category", "new_category")
    'new_category'
    """
    table = TABLES[kind]
    if code is None or (isinstance(code, float) and code != code):
        return ""
    return table.get(str(code), str(code))


def reasons_zh(flag_reason: object) -> str:
    """A ``flag_reason`` (codes joined by ``;``) in Chinese, joined by "；".

    Examples
    --------
    >>> reasons_zh("n_eff<30;ci_width>=0.30")
    '有效样本量不足30；置信区间宽度达30个百分点以上'
    >>> reasons_zh("")
    ''
    """
    text = zh("flag_reason", flag_reason)
    return "；".join(zh("flag_reason", c) for c in text.split(";") if c)
