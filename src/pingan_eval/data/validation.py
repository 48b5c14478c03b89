"""Row rules for a survey wave, the problem records they produce, and the validation report.

Every rule runs on every row, so a row with three faults gets three problem records and
the report lists every problem, not only the first. A problem is ``(file, row, column,
value, rule)``: ``row`` is the row as a spreadsheet user sees it (one per CSV record,
header = row 1; in XLSX the sheet's row number), ``value`` the text as typed.

A row with at least one problem is rejected: it goes to ``rejected.csv`` with its
original values and its reasons, and never into the estimates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pingan_eval.data.codebook import Codebook
from pingan_eval.data.dates import ambiguous_reason, as_typed
from pingan_eval.data.personal import PII_COLUMNS as PII_COLUMNS
from pingan_eval.data.personal import dropped_columns
from pingan_eval.data.personal import is_personal_column as is_personal_column
from pingan_eval.data.readers import ROW

#: Columns every wave needs besides the codebook's question columns.
SURVEY_COLUMNS = ("respondent_id", "township", "village", "household_id", "interview_date",
                  "sex", "age", "ethnicity", "household_adults")

def wave_columns(codebook: Codebook) -> tuple[str, ...]:
    """The documented columns of a wave (:data:`SURVEY_COLUMNS` and the codebook's
    questions): the only ones that may reach ``rejected.csv`` or any other output."""
    return (*SURVEY_COLUMNS, *codebook.columns)


#: Oldest plausible respondent age; older entries are treated as typing errors.
MAX_AGE = 110

#: Rule name -> (English, Chinese) description, in the order rules are checked.
RULES: dict[str, tuple[str, str]] = {
    "unbalanced_quote": ("a stray CSV quote merged this row with others (value: where it "
                         "opens and closes)", "多余的引号使本行与其他行合并（值：引号起止行）"),
    "too_many_cells": ("row has more cells than the header", "该行单元格多于表头"),
    "unmapped_value": ("the column map (columns.toml) cannot place this answer (column: the "
                       "export's header)",
                       "列映射表（columns.toml）无法对应此答案（列为导出表头）"),
    "missing_required": ("required field is blank", "必填项为空"),
    "duplicate_respondent_id": ("respondent_id already used on an earlier row",
                                "受访者编号与前面的行重复"),
    "unknown_township": ("township is not in the frame", "乡镇不在抽样框中"),
    "unknown_village": ("village is not in the frame", "村/社区不在抽样框中"),
    "village_not_in_township": ("village belongs to another township in the frame",
                                "村/社区不属于所填乡镇"),
    "village_not_sampled": ("village is not a sampled PSU in the frame", "村/社区未被抽中"),
    "village_not_in_fieldwork": ("village has no row in this wave's fieldwork file",
                                 "本期入户记录中无此村/社区"),
    "invalid_date": ("interview_date is not a YYYY-MM-DD date", "访问日期格式错误"),
    "ambiguous_date": ("interview_date does not write the year first (05/11/2026, 11/5/26): "
                       "day/month order unknown; write YYYY-MM-DD",
                       "访问日期未以年份开头，日/月顺序不明，请写作YYYY-MM-DD"),
    "date_outside_period": ("interview_date is outside the period's month", "访问日期不在本期"),
    "unknown_level": ("sex or ethnicity is not a level of census.csv", "性别或民族不在普查类别中"),
    "not_an_integer": ("age or household_adults is not a whole number",
                       "年龄或家庭成年人数不是整数"),
    "age_under_18": ("age is below 18", "年龄不满18岁"),
    "age_implausible": (f"age is above {MAX_AGE}", f"年龄超过{MAX_AGE}岁"),
    "household_adults_below_1": ("household_adults is below 1", "家庭成年人数小于1"),
    "household_adults_exceeded": ("more respondents in the household than its adults "
                                  "(the later rows are rejected)",
                                  "同一户受访人数超过成年人数（剔除后出现的行）"),
    "duplicate_household": ("household already has a respondent on an earlier row "
                            "(one adult is interviewed per household)",
                            "同一户已有受访者（每户只访一名成人）"),
    "code_not_in_codebook": ("answer code is not in the codebook", "答案代码不在编码表中"),
}

PROBLEM_COLUMNS = ("file", "row", "column", "value", "rule")


def _whole(text: pd.Series) -> pd.Series:
    """Whole numbers written in ``text`` (float64), NaN where the text is not one."""
    num = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    return num.where(num % 1 == 0)


def validate_wave(
    wave: pd.DataFrame,
    *,
    file: str,
    period: str,
    frame: pd.DataFrame,
    census: pd.DataFrame,
    fieldwork: pd.DataFrame,
    codebook: Codebook,
) -> pd.DataFrame:
    """Check every row of a survey wave against the frame, census, fieldwork and codebook.

    Parameters
    ----------
    wave : pandas.DataFrame
        The wave as read by :func:`pingan_eval.data.readers.read_table` (text cells, index
        ``source_row``), with every required column present.
    file : str
        File name to put in the problem records.
    period : str
        ``YYYY-MM``; interview dates must fall in this month.
    frame, census, fieldwork : pandas.DataFrame
        From :func:`~pingan_eval.data.readers.read_frame`,
        :func:`~pingan_eval.data.readers.read_census` and
        :func:`~pingan_eval.data.readers.read_fieldwork`.
    codebook : Codebook
        Valid answer codes.

    Returns
    -------
    pandas.DataFrame
        One row per problem with columns file, row (int), column, value (the text as
        typed, a normalized date too), rule (a key of :data:`RULES`), sorted by row, then
        rule order, then column. Empty (same columns) when every row is clean.

    Notes
    -----
    A blank cell gets only ``missing_required``; the other rules look at non-blank cells.
    Where rows clash, the first in file order is kept and the later ones are rejected:
    ``duplicate_respondent_id`` flags every repeat of an id already used above, and
    the k-th respondent (k > 1) of a household (village x household_id, among rows whose
    village lies in their township) gets ``household_adults_exceeded`` when k exceeds
    that row's ``household_adults`` and ``duplicate_household`` otherwise (one adult is
    interviewed per household, so any second respondent is one too many).
    """
    found: list[pd.DataFrame] = []
    typed = as_typed(wave)  # values as typed (a date Excel wrote 2026/11/5 is shown so)

    def add(mask: pd.Series, column: str, rule: str, value: pd.Series | None = None) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            shown = typed[column] if value is None else value
            found.append(pd.DataFrame({"row": wave.index[mask.to_numpy()], "column": column,
                                       "value": shown[mask].astype(str).to_numpy(),
                                       "rule": rule}))

    for row, (column, opened, closed) in wave.attrs.get("stray_quotes", {}).items():
        found.append(pd.DataFrame({"row": [row], "column": column, "rule": "unbalanced_quote",
                                   "value": f"quote opened on line {opened}, closes on line "
                                            f"{closed}"}))
    if "_extra_cells" in wave:
        cells = wave["_extra_cells"].str.count(",") + 1
        add(wave["_extra_cells"] != "", "_extra_cells", "too_many_cells",
            cells.astype(str) + " extra cells")
    required = [*SURVEY_COLUMNS, *codebook.columns]
    filled = {col: wave[col] != "" for col in required}
    for col in required:
        add(~filled[col], col, "missing_required")

    add(filled["respondent_id"] & wave["respondent_id"].duplicated(), "respondent_id",
        "duplicate_respondent_id")

    # Places: township, then village against the frame and the wave's fieldwork.
    town, village = wave["township"], wave["village"]
    known_town = town.isin(set(frame["township"]))
    add(filled["township"] & ~known_town, "township", "unknown_township")
    village_town = village.map(frame.set_index("village")["township"])
    in_frame = village_town.notna()
    add(filled["village"] & ~in_frame, "village", "unknown_village")
    add(in_frame & known_town & (village_town != town), "village", "village_not_in_township")
    right = in_frame & (village_town == town)
    sampled = village.map(frame.set_index("village")["sampled"]) == 1
    add(right & ~sampled, "village", "village_not_sampled")
    add(right & sampled & ~village.isin(set(fieldwork["village"])), "village",
        "village_not_in_fieldwork")

    date = pd.to_datetime(wave["interview_date"], format="%Y-%m-%d", errors="coerce")
    ambiguous = wave["interview_date"].map(ambiguous_reason).notna()
    add(filled["interview_date"] & date.isna() & ~ambiguous, "interview_date", "invalid_date")
    add(ambiguous, "interview_date", "ambiguous_date")
    add(date.notna() & (date.dt.strftime("%Y-%m") != period), "interview_date",
        "date_outside_period")

    for col in ("sex", "ethnicity"):
        levels = set(census.loc[census["margin"] == col, "level"])
        add(filled[col] & ~wave[col].isin(levels), col, "unknown_level")

    age = _whole(wave["age"])
    add(filled["age"] & age.isna(), "age", "not_an_integer")
    add(age < 18, "age", "age_under_18")
    add(age > MAX_AGE, "age", "age_implausible")

    adults = _whole(wave["household_adults"])
    add(filled["household_adults"] & adults.isna(), "household_adults", "not_an_integer")
    add(adults < 1, "household_adults", "household_adults_below_1")
    # The k-th respondent of a household (file order) is one too many when k > its adults;
    # households are counted among rows whose village lies in their township.
    household = right & filled["household_id"]
    rank = wave[household].groupby(["village", "household_id"]).cumcount() + 1
    rank = rank.reindex(wave.index)
    add((adults >= 1) & (rank > adults), "household_adults", "household_adults_exceeded")
    add((rank > 1) & ~(rank > adults), "household_id", "duplicate_household")

    for q in codebook.questions:
        code = _whole(wave[q.question])
        add(filled[q.question] & ~code.isin(list(q.codes)), q.question, "code_not_in_codebook")

    if not found:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object)
                             for c in PROBLEM_COLUMNS})
    out = pd.concat(found, ignore_index=True)
    out.insert(0, "file", file)
    rank = {r: i for i, r in enumerate(RULES)}
    out = out.assign(_r=out["rule"].map(rank)).sort_values(["row", "_r", "column"], kind="stable")
    return out.drop(columns="_r").reset_index(drop=True).astype({"row": "int64"})


def rejected_rows(wave: pd.DataFrame, problems: pd.DataFrame, *,
                  allowed: Iterable[str]) -> pd.DataFrame:
    """The rejected rows of a wave with their original values and reasons, PII removed.

    Parameters
    ----------
    wave : pandas.DataFrame
        The wave as read (text cells, index ``source_row``).
    problems : pandas.DataFrame
        From :func:`validate_wave`.
    allowed : iterable of str
        The columns that may be written (:func:`wave_columns`): any other column, and
        any that :func:`is_personal_column`, never is (nor are surplus cells).

    Returns
    -------
    pandas.DataFrame
        Columns ``source_row``, then the wave's allowed columns in file order (all text,
        as typed), then ``reasons`` (``"rule(column); ..."``), one row per rejected row in
        file order.

    Examples
    --------
    >>> w = pd.DataFrame({"age": ["17", "30"], "phone": ["139", "138"], "note": ["a", "b"]},
    ...                  index=pd.Index([2, 3], name="source_row"))
    >>> p = pd.DataFrame({"file": ["s.csv"], "row": [2], "column": ["age"], "value": ["17"],
    ...                   "rule": ["age_under_18"]})
    >>> rejected_rows(w, p, allowed=["age", "sex"])
       source_row age            reasons
    0           2  17  age_under_18(age)
    """
    reasons = (problems["rule"] + "(" + problems["column"] + ")").groupby(problems["row"]).agg(
        "; ".join)
    drop = dropped_columns(wave.columns, allowed)
    skip = {*drop["personal"], *drop["other"], "_extra_cells"}
    keep = [c for c in wave.columns if c not in skip]
    out = as_typed(wave.loc[wave.index.isin(reasons.index), keep])
    out["reasons"] = reasons.reindex(out.index).to_numpy()
    return out.reset_index().rename(columns={"index": ROW})


def rule_counts(problems: pd.DataFrame) -> dict[str, int]:
    """Number of problems per rule, every rule listed (0 when it found nothing)."""
    counts = problems["rule"].value_counts()
    return {rule: int(counts.get(rule, 0)) for rule in RULES}


def problem_records(problems: pd.DataFrame) -> list[dict[str, Any]]:
    """Problems as JSON-ready records (``row`` as int)."""
    return [{"file": f, "row": int(r), "column": c, "value": v, "rule": u}
            for f, r, c, v, u in problems[list(PROBLEM_COLUMNS)].itertuples(index=False)]


def _fmt(x: float, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def report_markdown(report: Mapping[str, Any], max_problems: int = 200) -> str:
    """Render a validation report (the ``validation.json`` content) as bilingual Markdown.

    Parameters
    ----------
    report : Mapping
        The report dict written by :func:`pingan_eval.data.prepare.prepare_period`.
    max_problems : int
        Problems listed in full; the rest are counted (all are in ``validation.json``
        and ``rejected.csv``).

    Returns
    -------
    str
        Markdown: counts, rejection threshold, problems per rule, the first problems,
        weighting summary (when present) and the input files with their SHA-256.
    """
    c = report["counts"]
    lines = [
        f"# 数据校验报告 Validation report — {report['period']}",
        "",
        f"- 状态 Status: **{report['status']}**",
        f"- 读入 Read: {c['read']} 行 rows; 保留 kept: {c['kept']}; 剔除 rejected: "
        f"{c['rejected']} ({100 * c['rejected_share']:.2f}%)",
        f"- 核对 Check: kept + rejected = read: {c['kept'] + c['rejected'] == c['read']}",
        f"- 剔除上限 Rejection threshold: {100 * report['max_rejected']:.2f}%",
        f"- 空行 Blank rows skipped (no data): {len(report.get('blank_rows', []))}"
        + (f" (rows {', '.join(map(str, report['blank_rows'][:20]))}"
           f"{' …' if len(report['blank_rows']) > 20 else ''})" if report.get("blank_rows")
           else ""),
        *_dates_line(report),
        f"- 调查文件 Survey file: `{report['survey_file']}` (编码 encoding: "
        f"{report['encoding']})",
        "- 行号 Row numbers: 与电子表格所见一致（表头为第1行）; as a spreadsheet shows them, "
        "the header is row 1.",
        "- 个人信息 Personal data: 姓名、电话、身份证号等列不写入处理后数据、剔除文件和报告; "
        "columns " + ", ".join(f"`{p}`" for p in PII_COLUMNS[:3]) + " and their Chinese "
        "variants are dropped everywhere (rejected.csv keeps `source_row` to find the raw row).",
        *_dropped_line(report),
        *_map_line(report),
        "",
        "## 各规则问题数 Problems per rule",
        "",
        "| rule | 说明 | description | count |",
        "|---|---|---|---:|",
    ]
    for rule, n in report["rule_counts"].items():
        en, zh = RULES[rule]
        lines.append(f"| `{rule}` | {zh} | {en} | {n} |")
    problems: Sequence[Mapping[str, Any]] = report["problems"]
    lines += ["", f"## 问题清单 Problems ({len(problems)})", ""]
    if problems:
        lines += ["| file | row | column | value | rule |", "|---|---:|---|---|---|"]
        lines += [f"| {_md_escape(p['file'])} | {p['row']} | {_md_escape(p['column'])} | "
                  f"{_md_escape(p['value'])} | `{p['rule']}` |" for p in problems[:max_problems]]
        if len(problems) > max_problems:
            lines += ["", f"… {len(problems) - max_problems} more in validation.json "
                      "and rejected.csv."]
    else:
        lines.append("无 None.")
    w = report.get("weighting")
    if w:
        lines += [
            "", "## 加权 Weighting", "",
            f"- 设计 Design: {w['design']}",
            f"- 权重范围 Weight range: {_fmt(w['weight_min'], 2)} – {_fmt(w['weight_max'], 2)}",
            f"- 加权设计效应 Kish design effect (overall): {_fmt(w['kish_deff'])}",
            f"- 耙式迭代 Raking: {w['rake_iterations']} iterations, converged: "
            f"{w['rake_converged']}",
            f"- 截尾 Trimming: {w['trim'] if w['trim'] is not None else 'none 未截尾'}",
            "", "| township 乡镇 | n | Kish deff | weight min | weight max |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [f"| {t['township']} | {t['n']} | {_fmt(t['kish_deff'])} | "
                  f"{_fmt(t['weight_min'], 2)} | {_fmt(t['weight_max'], 2)} |"
                  for t in w["townships"]]
    notes: Iterable[str] = report.get("notes", [])
    if notes:
        lines += ["", "## 说明 Notes", ""] + [f"- {n}" for n in notes]
    lines += ["", "## 输入文件 Input files (SHA-256)", ""]
    lines += [f"- `{name}`: `{digest}`" for name, digest in report["inputs"].items()]
    return "\n".join(lines) + "\n"


def _dates_line(report: Mapping[str, Any]) -> list[str]:
    forms = report.get("dates_normalized", [])
    if not forms:
        return []
    return ["- 日期已规范为 Dates normalized to YYYY-MM-DD: " + "; ".join(
        f"`{_md_escape(d['column'])}` {d['count']} × `{_md_escape(d['form'])}`" for d in forms)
        + (" (时间已舍去 the time of day was dropped: only the date is used)"
           if any("time dropped" in d["form"] for d in forms) else "")]


def _dropped_line(report: Mapping[str, Any]) -> list[str]:
    names = [*report.get("personal_data_columns_dropped", []),
             *report.get("other_columns_dropped", [])]
    if not names:
        return []
    return ["- 未输出的列 Columns dropped from every output (names only): "
            + ", ".join(f"`{_md_escape(n)}`" for n in names)]


def _map_line(report: Mapping[str, Any]) -> list[str]:
    m = report.get("column_map")
    if not m:
        return []
    modes = {"text": "按选项文本 option text", "number": "按选项序号 option number"}
    files = "; ".join(f"`{_md_escape(f['file'])}` ([[source]] {f['source']}, "
                      f"{modes.get(f['mode'], f['mode'])}, {f['rows']} rows)" for f in m["files"])
    return [f"- 列映射 Column map `{_md_escape(m['file'])}`: {files}; "
            f"“其他”填写内容未输出 other-option text dropped from {m['other_text_dropped']} cells"]


def report_json(report: Mapping[str, Any]) -> str:
    """The report as pretty, key-ordered UTF-8 JSON (Chinese kept readable)."""
    return json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
