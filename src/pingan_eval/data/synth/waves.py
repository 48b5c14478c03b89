"""The monthly survey waves: fieldwork, interviews, personal data and planted errors.

Every month each sampled village draws households by simple random sampling, a
village-specific share of them responds and one adult of each responding household is
interviewed. One wave carries fake personal data columns, the last one planted invalid rows;
two are written as 问卷星 exports (:func:`write_export`) with their column map
(:func:`column_map_toml`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.data.synth.population import (
    ETHNICITIES,
    INDICATORS,
    SEXES,
    Population,
    Township,
    parse_period,
)

_RESPONSE = 0.85  # planned mean household response rate (villages draw 0.75-0.95)


@dataclass(frozen=True)
class _Fieldplan:
    villages: np.ndarray  # sampled village indices, frame order
    take: np.ndarray  # planned households per village and month
    response: np.ndarray  # household response probability per village


def fieldplan(towns: Sequence[Township], pop: Population, sampled: np.ndarray,
               respondents_per_wave: int, rng: np.random.Generator) -> _Fieldplan:
    villages = np.flatnonzero(sampled)
    per_town = respondents_per_wave / len(towns) / _RESPONSE
    take = np.empty(len(villages), dtype=np.int64)
    for h in range(len(towns)):
        idx = np.flatnonzero(pop.village_town[villages] == h)
        base, extra = divmod(round(per_town), len(idx))
        take[idx] = base + (np.arange(len(idx)) < extra)
    return _Fieldplan(villages, take, rng.uniform(0.75, 0.95, len(villages)))


def wave(towns: Sequence[Township], village_names: Sequence[str], pop: Population,
          codes: np.ndarray, plan: _Fieldplan, period: str,
          rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fieldwork and survey tables of one month."""
    year, month = parse_period(period)
    ndays = calendar.monthrange(year, month)[1]
    field, persons, days = [], [], []
    for v, take, resp in zip(plan.villages, plan.take, plan.response, strict=True):
        n = int(np.clip(take + rng.integers(-2, 3), 1, pop.village_households[v]))
        chosen = rng.choice(pop.village_households[v], size=n, replace=False)
        hh = pop.village_first_hh[v] + chosen[rng.random(n) < resp]
        persons.append(pop.hh_first[hh] + rng.integers(0, pop.hh_adults[hh]))
        days.append(rng.integers(1, ndays + 1, len(hh)))
        field.append((towns[pop.village_town[v]].name, village_names[v], n, len(hh)))
    fieldwork = pd.DataFrame(field, columns=["township", "village", "households_selected",
                                             "households_responded"])
    p = np.concatenate(persons)
    day = np.concatenate(days)
    hh = pop.person_hh[p]
    order = np.lexsort((pop.hh_local[hh], day, pop.person_village[p]))
    p, day, hh = p[order], day[order], hh[order]
    survey = pd.DataFrame({
        "respondent_id": [f"{period}-{i:06d}" for i in range(1, len(p) + 1)],
        "township": [towns[t].name for t in pop.person_town[p]],
        "village": [village_names[v] for v in pop.person_village[p]],
        "household_id": [f"H{n:04d}" for n in pop.hh_local[hh]],
        "interview_date": [f"{period}-{d:02d}" for d in day],
        "sex": [SEXES[s] for s in pop.sex[p]],
        "age": pop.age[p],
        "ethnicity": [ETHNICITIES[e] for e in pop.ethnicity[p]],
        "household_adults": pop.hh_adults[hh],
    })
    for j, ind in enumerate(INDICATORS):
        survey[f"q_{ind}"] = codes[j, p]
    return fieldwork, survey


# ---------------------------------------------------------------- personal data (one wave)
_KAZAKH_MALE = ("努尔兰", "叶尔兰", "别克", "阿斯哈尔", "达吾列提", "哈那提", "赛力克",
                "叶尔波拉提", "吐尔逊", "马合沙提")


_KAZAKH_FEMALE = ("古丽娜尔", "阿依古丽", "热依拉", "扎依拉", "娜孜古丽", "阿娜尔", "沙吾列",
                  "巴合提古丽")


_MONGOL = ("巴特尔", "其木格", "乌云", "孟和", "娜仁", "额尔敦", "斯琴", "巴图")


_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "马", "赵", "周", "吴", "马", "韩")


_GIVEN = ("建国", "丽", "伟", "秀英", "军", "娟", "海燕", "志强", "芳", "红梅", "晓东", "玉兰")


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _fake_id(birth: dt.date, seq: int) -> str:
    """An 18-character ID-card number with a valid check digit and a region code (990000)
    that no real place has."""
    body = f"990000{birth:%Y%m%d}{seq:03d}"
    check = "10X98765432"[int(np.dot(_ID_WEIGHTS, [int(c) for c in body])) % 11]
    return body + check


def add_personal_data(survey: pd.DataFrame, period: str, rng: np.random.Generator) -> None:
    year, _ = parse_period(period)
    names, phones, ids = [], [], []
    for sex, age, eth in zip(survey["sex"], survey["age"], survey["ethnicity"], strict=True):
        u = int(rng.integers(0, 1 << 30))
        if eth == "哈萨克族":
            first = _KAZAKH_MALE if sex == "男" else _KAZAKH_FEMALE
            names.append(f"{first[u % len(first)]}·{_KAZAKH_MALE[(u >> 8) % len(_KAZAKH_MALE)]}")
        elif eth == "蒙古族":
            names.append(_MONGOL[u % len(_MONGOL)])
        else:
            names.append(_SURNAMES[u % len(_SURNAMES)] + _GIVEN[(u >> 8) % len(_GIVEN)])
        phones.append(f"{(139, 158, 180, 199)[u % 4]}{int(rng.integers(0, 10**8)):08d}")
        birth = dt.date(year - int(age) - 1, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
        ids.append(_fake_id(birth, int(rng.integers(0, 1000))))
    survey["name"], survey["phone"], survey["id_card"] = names, phones, ids


# ---------------------------------------------------------------- planted invalid rows
def plant_errors(survey: pd.DataFrame, towns: Sequence[Township], period: str,
                  file: str, rng: np.random.Generator) -> tuple[pd.DataFrame, list[tuple]]:
    """Plant one row per validation rule in a wave; return it (as text) and the list.

    Each listed row is a 1-based data row (header excluded). For a pair (a repeated
    respondent_id, two respondents from a one-adult household) the later row is listed.
    """
    df = survey.astype(str)
    n = len(df)
    year, month = parse_period(period)
    rows: list[tuple] = []
    used: set[int] = set()

    def pick(candidates: np.ndarray | None = None) -> int:
        pool = np.setdiff1d(np.arange(n) if candidates is None else candidates, list(used))
        i = int(rng.choice(pool))
        used.add(i)
        return i

    def plant(i: int, column: str, rule: str, value: str) -> None:
        df.loc[i, column] = value
        rows.append((file, i + 1, i + 2, column, rule, value))

    a, b = sorted((pick(), pick()))
    plant(b, "respondent_id", "duplicate_respondent_id", df.loc[a, "respondent_id"])
    plant(pick(), "township", "unknown_township", "青河乡")
    if len(towns) > 1:
        i = pick()
        df.loc[i, "township"] = next(t.name for t in towns if t.name != df.loc[i, "township"])
        rows.append((file, i + 1, i + 2, "village", "village_not_in_township",
                     df.loc[i, "village"]))
    plant(pick(), "village", "unknown_village", "阿克苏村")
    plant(pick(), "q_security", "code_not_in_codebook", "7")
    plant(pick(), "age", "age_under_18", "16")
    plant(pick(), "age", "not_an_integer", "abc")
    before = dt.date(year, month, 1) - dt.timedelta(days=1)
    plant(pick(), "interview_date", "date_outside_period", before.isoformat())
    plant(pick(), "sex", "missing_required", "")
    plant(pick(), "household_adults", "household_adults_below_1", "0")
    plant(pick(), "ethnicity", "unknown_level", "维吾尔族")
    # A second respondent from a one-adult household of the same village.
    single = np.flatnonzero(df["household_adults"].to_numpy() == "1")
    a = pick(single)
    b = pick(np.flatnonzero(df["village"].to_numpy() == df.loc[a, "village"]))
    df.loc[b, "household_adults"] = "1"
    df.loc[b, "household_id"] = df.loc[a, "household_id"]
    later = max(a, b)
    rows.append((file, later + 1, later + 2, "household_adults", "household_adults_exceeded", "1"))
    return df, rows


# ---------------------------------------------------------------- survey-platform exports
#: Waves written as 问卷星 exports instead of the canonical columns, by waves before the
#: last: 2026-07 as a text export (one GBK CSV), 2026-06 as a number export (one XLSX per
#: township under survey/2026-06/). ``columns.toml`` maps both back.
EXPORTS = {4: "text", 5: "number"}

#: The form: wave field, question number and the question as the export's header shows it.
_FORM = (
    ("township", 1, "您所在的乡镇："), ("village", 2, "您所在的村（社区）名称："),
    ("household_id", 3, "户编号（调查员填写）："), ("sex", 4, "您的性别："),
    ("age", 5, "您的年龄（周岁）："), ("ethnicity", 6, "您的民族："),
    ("household_adults", 7, "您家中18周岁及以上的常住成员有几人？"),
    ("q_awareness", 8, "您是否知道本县正在开展平安建设？"),
    ("q_participation", 9, "您是否参加过治安巡逻、矛盾调解、平安宣传等平安建设活动？"),
    ("q_satisfaction", 10, "您对以下方面的满意程度："),
    ("q_legal_satisfaction", 10, "您对以下方面的满意程度："),  # matrix rows: one header twice
    ("q_security", 11, "您觉得本地的社会治安状况安全吗？"),
)
_CHOICE_TYPE = {"village": "填空题", "household_id": "填空题", "age": "填空题",
                "household_adults": "填空题", "q_satisfaction": "矩阵单选题",
                "q_legal_satisfaction": "矩阵单选题"}
_ETHNIC_FORM = ("汉族", "哈萨克族", "回族", "蒙古族", "其他")  # the form's option order
_OTHER_TEXT = ("维吾尔族", "锡伯族", "满族", "塔塔尔族")


def _options(codebook: pd.DataFrame, towns: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Each choice field's options in form order: (option text, value or code)."""
    out: dict[str, list[tuple[str, str]]] = {
        "township": [(t, t) for t in towns], "sex": [(s, s) for s in SEXES],
        "ethnicity": [(e, e) for e in _ETHNIC_FORM]}
    for q, rows in codebook.groupby("question", sort=False):
        out[str(q)] = [(str(r.label_zh), str(r.code)) for r in rows.itertuples()]
    return out


def _meta(survey: pd.DataFrame, period: str) -> pd.DataFrame:
    """问卷星's meta columns, derived from the row number (no random draw)."""
    year, month = parse_period(period)
    i = np.arange(1, len(survey) + 1)
    day = survey["interview_date"].str[-2:].astype(int).to_numpy()
    secs = 95 + (i * 37) % 400
    return pd.DataFrame({
        "序号": i,
        "提交答卷时间": [f"{year}/{month}/{d} {8 + k * 7 % 11}:{k * 13 % 60:02d}:{k * 29 % 60:02d}"
                   for d, k in zip(day, i, strict=True)],
        "所用时间": [f"{s}秒" if s < 180 else f"{s // 60}分{s % 60}秒" for s in secs],
        "来源": np.where(i % 5 == 0, "链接", "手机提交"),
        "来源详情": np.where(i % 3 == 0, "微信", "直接访问"),
        "来自IP": [f"10.{k % 7}.{k * 11 % 250}.{k * 17 % 250}(新疆-阿勒泰)" for k in i],
    }, index=survey.index)


def _answers(survey: pd.DataFrame, options: dict[str, list[tuple[str, str]]],
             mode: str) -> pd.DataFrame:
    """The form's answers as the export writes them: option text or option number; "其他"
    with its text in 〖〗, some "don't know" answers as skipped (both mean missing)."""
    cols = {}
    for j, (field, _, _) in enumerate(_FORM):
        value = survey[field].astype(str)
        if field in options:
            pos = {v: (k, text) for k, (text, v) in enumerate(options[field], start=1)}
            value = value.map(lambda v, p=pos: str(p[v][0]) if mode == "number" else p[v][1])
        if field == "ethnicity":
            other = (survey[field] == "其他").to_numpy()
            value[other] = [f"{v}〖{_OTHER_TEXT[k % len(_OTHER_TEXT)]}〗"
                            for k, v in enumerate(value[other])]
        if field.startswith("q_"):
            skip = (survey[field].astype(str) == "9").to_numpy() & (np.arange(len(survey)) % 3
                                                                    == j % 3)
            value[skip] = "(跳过)" if mode == "text" else "-3"
        cols[j] = value
    return pd.DataFrame(cols, index=survey.index)


def _header(mode: str) -> list[str]:
    """Question headers: the text export's with stray spaces (a tab, a full-width space),
    the number export's with 2016-style type suffixes."""
    out = []
    for field, n, text in _FORM:
        if mode == "number":
            out.append(f"{n}、{text}({_CHOICE_TYPE.get(field, '单选题')} *必答)")
        else:
            stray = {"sex": "\u3000", "age": "\t", "village": " "}.get(field, "")
            out.append(f"{n}、{text}{stray}")
    return out


def write_export(folder: Path, survey: pd.DataFrame, period: str, mode: str,
                 codebook: pd.DataFrame, towns: Sequence[str]) -> list[Path]:
    """Write a wave as a 问卷星 export into ``folder/survey``: text mode, one GBK CSV
    ``<period>.csv`` (CRLF); number mode, one XLSX per township in ``<period>/``, each
    keeping the survey's 序号 (a filtered export). Returns the files written."""
    options = _options(codebook, towns)
    table = pd.concat([_meta(survey, period), _answers(survey, options, mode)], axis=1)
    if mode == "text":
        table.columns = [*table.columns[:6], *_header(mode)]
        path = folder / "survey" / f"{period}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(table.to_csv(index=False, lineterminator="\r\n").encode("gbk"))
        return [path]
    meta = ["序号", "来源", "来源详情", "来自IP", "提交答卷时间", "所用时间"]  # another order
    table = table[[*meta, *range(len(_FORM))]]
    table.columns = [*meta, *_header(mode)]
    table = table.assign(总分=0)
    written = []
    for town in towns:
        rows = table[(survey["township"] == town).to_numpy()]
        if len(rows):
            path = folder / "survey" / period / f"{town}.xlsx"
            _write_xlsx(path, list(rows.columns), rows.to_numpy().tolist())
            written.append(path)
    return written


def _write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """An XLSX workbook with fixed timestamps (inside and in the zip), so the same rows give
    the same bytes; whole numbers are number cells, as the platform writes them."""
    import io
    import re
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(header)
    for row in rows:
        ws.append([int(v) if isinstance(v, str) and v.lstrip("-").isdigit() and len(v) < 9
                   else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    stamp = "2026-01-01T00:00:00Z"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" +
                              stamp.encode(), data)
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            out.writestr(info, data)


def column_map_toml(exported: dict[str, str], codebook: pd.DataFrame,
                    towns: Sequence[str]) -> str:
    """``columns.toml`` for the waves written by :func:`write_export` (period -> mode)."""
    options = _options(codebook, towns)
    lines = ["# Column map: the survey waves that arrive as 问卷星 (wjx) exports, and how their",
             "# columns and answers become the wave's fields and codebook codes.",
             '# Format: data/raw/README.md ("columns.toml"); a commented template is',
             "# src/pingan_eval/data/templates/columns.toml.", ""]
    for period, mode in sorted(exported.items()):
        text = mode == "text"
        lines += ["[[source]]",
                  f"# {period}: 问卷星 export 按选项{'文本' if text else '序号'}"
                  + (", saved as CSV (GBK)" if text else ", one workbook per township"),
                  f'files = ["survey/{period}{".csv" if text else "/*.xlsx"}"]',
                  f'mode = "{mode}"',
                  '# respondent_id from the 序号 (the whole survey\'s: each file is a filtered'
                  if not text else "# respondent_id from the 序号: 12 -> " + period + "-000012",
                  *([] if text else ["# export, so no {file} prefix is needed)"]),
                  'id = "{period}-{id:06}"', "", "[source.columns]",
                  'respondent_id = "序号"', 'interview_date = "提交答卷时间"']
        for field, n, header in _FORM:
            if field == "household_adults" and text:  # by header text (punctuation ignored)
                lines.append(f'{field} = "{header.rstrip("？")}"')
            elif field.startswith("q_") and n == 10:  # a matrix question's two rows
                nth = 1 if field == "q_satisfaction" else 2
                lines.append(f'{field} = {{ question = "{n}、", nth = {nth} }}')
            else:
                lines.append(f'{field} = "{n}、"')
        if text:
            lines += ["# answers: option text; the codebook's labels (很安全 -> 1, 说不清 -> 9) "
                      "need no table", ""]
            continue
        lines.append("")
        for field, _, header in _FORM:
            if field not in options:
                continue
            lines.append(f"[source.answers.{field}]  # {header}")
            for pos, (label, value) in enumerate(options[field], start=1):
                shown = value if field.startswith("q_") else f'"{value}"'
                lines.append(f"{pos} = {shown}" + (f"  # {label}" if field.startswith("q_")
                                                    else ""))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
