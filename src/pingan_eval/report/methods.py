"""How the numbers were made (methods) and where they come from (provenance).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval import paths
from pingan_eval.plan import PlanLike, as_plan
from pingan_eval.report.formatting import DASH, area_rows, fmt_pct, period_zh

#: The plan's lonely-PSU rule, for the reader.
_LONELY = {
    "adjust": "方差以全县均值为中心计算该村的贡献（R survey包 lonely.psu = \"adjust\"）："
              "全县和其他乡镇照常估计；该乡镇当月的直接估计没有自由度，不下结论，也不进入模型估计",
    "remove": "该村不贡献方差（R survey包 lonely.psu = \"remove\"）；该乡镇当月的直接估计"
              "没有自由度，不下结论",
    "fail": "停止估计（计划规定 lonely_psu = \"fail\"）",
}

_PACKAGES = ("pingan-eval", "numpy", "pandas", "scipy", "matplotlib", "papermill",
             "nbconvert")


def methods_table(summary: pd.DataFrame, area: str, *,
                  raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                  processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
                  plan: PlanLike = None, facts: pd.DataFrame | None = None) -> pd.DataFrame:
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
    plan : Plan, path or None
        Its lonely-PSU rule is stated; ``None`` reads the shipped plan.
    facts : pandas.DataFrame, optional
        :func:`pingan_eval.summary.facts.sample_facts` of the period (the batch caches it,
        so a township report reads no other township's data); default: read here.

    Returns
    -------
    pandas.DataFrame
        Two text columns, 项目 and 内容, one row per fact. Every value is deterministic
        for given data (no dates, versions or paths).
    """
    from pingan_eval.summary.facts import sample_facts

    rows = area_rows(summary, area)
    period = str(rows["period"].iloc[0])
    plan = as_plan(plan)
    if facts is None:
        facts = sample_facts(period, raw_dir, processed_dir, plan)
    fact = facts[facts["area"] == area].iloc[0]
    selected, responded = fact["households_selected"], fact["households_responded"]
    kish, absent = fact["kish_deff"], fact["absent"]
    survey = rows[rows["source"] == "survey"]
    if "estimator" in survey:
        survey = survey[survey["estimator"] == "direct"]
    deffs = "；".join(f"{r.name_zh} {r.deff:.2f}" for r in survey.itertuples()
                     if np.isfinite(r.deff))
    lines = [
        ("调查月份", period_zh(period)),
        ("样本量", f"{fact['respondents']:.0f}名受访者，来自{fact['villages']:.0f}个抽中村(社区)"),
        ("户应答率", f"{fmt_pct(responded / selected) if selected else DASH}"
                     f"（抽中{selected:.0f}户，完成{responded:.0f}户）"),
        ("全县数据核查", f"读入{_count(fact['rows_read'])}行，保留{_count(fact['rows_kept'])}行，"
                        f"剔除{_count(fact['rows_rejected'])}行（明细见 validation.md）"),
        ("抽样设计", "按乡镇分层，村(社区)为初级抽样单位（按户数PPS抽取），"
                     "抽中户内随机访问1名18岁以上居民"),
        ("加权", "基础权数=村入样概率与户内抽样的倒数×户内成人数；按村调整无应答；"
                 "再按人口普查的性别、年龄组、民族分布迭代比例加权（raking）"),
        ("加权设计效应（Kish）", f"{kish:.2f}" if np.isfinite(kish) else DASH),
        ("设计效应（各指标）", deffs or DASH),
        ("方差估计", "泰勒线性化，分层整群、有放回近似；比例的置信区间为logit区间，"
                     "与R survey包 svyciprop(method = \"logit\") 一致"),
        ("多月合并估计", "将本季度（或本年）以来各月样本合并，权数除以月数；同一村各月视为"
                         "同一初级抽样单位，计入同一村各月之间的相关"),
        ("模型估计（乡镇）", "乡镇×月份小域模型（乡镇效应加一阶自回归的月份效应，反正弦变换），"
                             "输入各月直接估计及同一村各月之间的抽样相关；某月的估计只用该月及"
                             "此前的数据，已发布的结果不因后续数据改变；均方误差计入方差分量"
                             "估计的不确定性；某乡镇水平明显偏离模型时单独估计其水平"),
        ("只有一个村有应答的乡镇", _LONELY[plan.estimation.lonely_psu]),
        ("判定规则", "95%置信区间下限≥目标为达标；上限<目标为未达标；区间包含目标为尚无定论；"
                     "各级结论所依据的估计见报告首表“估计依据”"),
        ("可靠性规则", "按美国国家卫生统计中心（NCHS）比例数据呈现标准：有效样本量过小或"
                       "置信区间过宽的估计不予显示，精度较低的估计标注“需谨慎解读”"),
    ]
    if absent:
        lines.append(("本月没有受访者的乡镇",
                      f"{absent}：村未调查或记录全部被剔除，加权时不含其人口普查分布，"
                      "没有本月直接估计；全县本月直接估计只代表其余乡镇"))
    return pd.DataFrame(lines, columns=["项目", "内容"])


def _count(value: float) -> str:
    return f"{value:.0f}" if np.isfinite(value) else DASH


def input_hashes(period: str, *, raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                 processed_dir: str | os.PathLike = paths.PROCESSED_DIR) -> dict[str, str]:
    """Input file -> SHA-256: the survey inputs from ``validation.json``, the registers and
    task logs hashed now (the batch does it once for all its reports)."""
    from pingan_eval.fileio import sha256_file

    report = json.loads((Path(processed_dir) / period / "validation.json").read_text(
        encoding="utf-8"))
    hashes = dict(report.get("inputs", {}))
    for sub in ("registers", "tasks"):
        folder = Path(raw_dir) / sub
        if folder.is_dir():
            hashes.update({f"{sub}/{f.name}": sha256_file(f)
                           for f in sorted(folder.iterdir()) if f.is_file()})
    return dict(sorted(hashes.items()))


def provenance_table(period: str, *,
                     raw_dir: str | os.PathLike = paths.SAMPLE_RAW_DIR,
                     processed_dir: str | os.PathLike = paths.PROCESSED_DIR,
                     hashes: dict[str, str] | None = None) -> pd.DataFrame:
    """Where the numbers come from: input file hashes, package versions, code commit.

    These values change between machines and runs (versions, commit), so a notebook
    shows this table in a cell nbval does not compare.

    Returns
    -------
    pandas.DataFrame
        Two text columns, 项目 and 内容: one row per input file (SHA-256, ``hashes`` or
        :func:`input_hashes`), the Python and package versions, the git commit.
    """
    if hashes is None:
        hashes = input_hashes(period, raw_dir=raw_dir, processed_dir=processed_dir)
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
    """HEAD of the project checkout, "+ 未提交的修改" when dirty; installed from a wheel
    (no checkout), the package version."""
    if paths.SOURCE_ROOT is None:
        return f"pingan-eval {_own_version()}（安装包，无git检出目录）"
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.SOURCE_ROOT, check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=paths.SOURCE_ROOT, check=True, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"pingan-eval {_own_version()}（不是git检出目录）"
    return head + ("（有未提交的修改）" if dirty else "")


def _own_version() -> str:
    try:
        return metadata.version("pingan-eval")
    except metadata.PackageNotFoundError:
        return "版本未知"
