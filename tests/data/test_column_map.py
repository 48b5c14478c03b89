"""Survey exports (问卷星 text and number exports, paper forms in Excel) read through
``columns.toml``: every quirk of such exports, the map's errors, and the key property that
an export gives exactly the processed data of the canonical wave it stands for."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_prepare import PERIOD, QUESTIONS, TOWNS, good_rows, write_dataset

from pingan_eval.data import column_map as cm
from pingan_eval.data.prepare import available_periods, prepare_period
from pingan_eval.data.synth import generate, synth_county
from pingan_eval.errors import DataError

#: The tiny form: wave field and its header as the export writes it (stray tabs, full-width
#: spaces, type suffixes; a matrix question's two rows under one header).
FORM = [("township", "1、乡镇：(单选题 *必答)"), ("village", "2、村（社区）："),
        ("household_id", "3、户编号\t"), ("sex", "4、性别：\u3000"), ("age", "5、年龄 "),
        ("ethnicity", "6、民族：【单选题】"), ("household_adults", "7、家中成年人数："),
        ("q_awareness", "8、知晓平安建设吗？"), ("q_participation", "9、参加过吗？"),
        ("q_satisfaction", "10、满意程度"), ("q_legal_satisfaction", "10、满意程度"),
        ("q_security", "11、安全感")]
OPTIONS = {"township": list(TOWNS), "sex": ["男", "女"], "ethnicity": ["汉族", "哈萨克族"],
           **{q: [str(c) for c, *_ in codes] for q, (_, codes) in QUESTIONS.items()}}
LABELS = {q: {str(c): lab for c, lab, *_ in codes} for q, (_, codes) in QUESTIONS.items()}
META = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
SKIPS = ["(跳过)", "（跳过）", "(空)", "-3", "-2"]

COLUMNS = """
[source.columns]
interview_date = "提交答卷时间"
township = "1、"
village = "村(社区)"
household_id = "3、"
sex = "4、"
age = "年龄"
ethnicity = "6、"
household_adults = "7."
q_awareness = "8、"
q_participation = "9、"
q_satisfaction = { question = "10、", nth = 1 }
q_legal_satisfaction = { header = "满意程度", nth = 2 }
q_security = "11、"
"""


def map_toml(mode: str, files: str, extra: str = "", id_format: str | None = None) -> str:
    head = f'[[source]]\nfiles = ["{files}"]\nmode = "{mode}"\n'
    if id_format:
        head += f'id = "{id_format}"\n'
    if mode == "text":
        answers = '[source.answers.sex]\n"A.男" = "男"\n"B.女" = "女"\n'
    else:
        answers = "".join(f"[source.answers.{f}]\n" + "".join(
            f"{i} = {v if f.startswith('q_') else repr(v).replace(chr(39), chr(34))}\n"
            for i, v in enumerate(opts, 1)) for f, opts in OPTIONS.items())
    return head + COLUMNS + answers + extra


def export_rows(rows: list[dict[str, str]], mode: str, *, meta: list[str] = META,
                skip: bool = True) -> tuple[list[str], list[list[str]]]:
    """The canonical rows as a 问卷星 export: meta columns, question headers, answers as
    option text or number; every "don't know" (9) written as one of the skip markers."""
    header = [*meta, *(h for _, h in FORM), "总分"]
    out, k = [], 0
    for i, r in enumerate(rows):
        day = int(r["interview_date"][-2:])
        secs = 60 + 17 * i
        m = {"序号": r["respondent_id"], "提交答卷时间": f"2026/11/{day} 10:{i % 60:02d}:33",
             "所用时间": f"{secs}秒" if i % 2 else f"{secs // 60}分{secs % 60}秒",
             "来源": "手机提交", "来源详情": "直接访问", "来自IP": "10.1.2.3(新疆-阿勒泰)"}
        cells = [m[c] for c in meta]
        for field, _ in FORM:
            v = r[field]
            if field.startswith("q_") and v == "9" and skip:
                v, k = SKIPS[k % len(SKIPS)], k + 1
            elif field in OPTIONS and mode == "number":
                v = str(OPTIONS[field].index(v) + 1)
            elif field.startswith("q_"):
                v = LABELS[field][v]
            elif field == "sex":
                v = {"男": "A.男", "女": "B.女"}[v]
            cells.append(v)
        out.append([*cells, "0"])
    return header, out


def write_export(path: Path, header: list[str], rows: list[list[str]],
                 encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(header)
        for r in rows:
            ws.append([int(v) if v.lstrip("-").isdigit() else v for v in r])
        wb.save(path)
    else:
        with open(path, "w", newline="", encoding=encoding) as fh:
            csv.writer(fh).writerows([header, *rows])
    return path


def export_dataset(root: Path, mode: str, suffix: str = ".csv", encoding: str = "utf-8",
                   rows: list[dict[str, str]] | None = None, **kw: object) -> Path:
    """The tiny dataset with its wave replaced by an export and a column map."""
    raw = write_dataset(root)
    (raw / "survey" / f"{PERIOD}.csv").unlink()
    header, cells = export_rows(good_rows() if rows is None else rows, mode, **kw)
    write_export(raw / "survey" / f"{PERIOD}{suffix}", header, cells, encoding)
    (raw / "columns.toml").write_text(map_toml(mode, f"survey/{PERIOD}{suffix}"), "utf-8")
    return raw


def outputs(folder: Path) -> dict[str, bytes]:
    return {f: (folder / f).read_bytes() for f in ("respondents.csv", "rejected.csv",
                                                   "margins.csv")}


@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("canonical")
    return outputs(prepare_period(PERIOD, write_dataset(root / "raw"), root / "out").folder)


# -- exports give the canonical wave's processed data ----------------------------------------

@pytest.mark.parametrize(("mode", "suffix", "encoding", "meta"), [
    ("text", ".csv", "utf-8", META), ("text", ".csv", "utf-8-sig", META[::-1]),
    ("text", ".csv", "gbk", META), ("number", ".csv", "gb18030", META[1:] + META[:1]),
    ("number", ".xlsx", "xlsx", META), ("text", ".xlsx", "xlsx", META[::-1])])
def test_export_gives_the_canonical_processed_data(tmp_path: Path, canonical, mode, suffix,
                                                   encoding, meta):
    raw = export_dataset(tmp_path / "raw", mode, suffix, encoding, meta=meta)
    before = {p: p.read_bytes() for p in raw.rglob("*") if p.is_file()}
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert {p: p.read_bytes() for p in raw.rglob("*") if p.is_file()} == before  # raw untouched
    assert (r.read, r.kept, r.rejected) == (32, 32, 0)
    assert outputs(r.folder) == canonical  # skip markers -> "don't know", meta columns gone
    rep = r.report
    assert rep["encoding"] == ("gb18030" if encoding in ("gbk", "gb18030") else encoding)
    assert set(rep["other_columns_dropped"]) == {*META[2:], "总分"}  # 序号, 时间: used
    assert rep["column_map"]["files"][0]["mode"] == mode
    assert sum(d["count"] for d in rep["dates_normalized"]) == 32  # 2026/11/5 10:21:33
    assert f"survey/{PERIOD}{suffix}" in rep["inputs"] and "columns.toml" in rep["inputs"]


def test_several_files_of_one_wave_are_merged_with_ids_per_file(tmp_path: Path, canonical):
    raw = write_dataset(tmp_path / "raw")
    (raw / "survey" / f"{PERIOD}.csv").unlink()
    rows = good_rows()
    rows[3]["age"] = "16"  # rejected: named by its file and row
    for town in TOWNS:
        mine = [dict(r, respondent_id=str(i)) for i, r in
                enumerate([r for r in rows if r["township"] == town], start=1)]
        header, cells = export_rows(mine, "number")
        write_export(raw / "survey" / PERIOD / f"{town}.xlsx", header, cells)
    (raw / "columns.toml").write_text(map_toml("number", f"survey/{PERIOD}/*.xlsx"), "utf-8")
    assert available_periods(raw) == [PERIOD]
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert (r.read, r.kept, r.rejected) == (32, 31, 1)
    resp = pd.read_csv(r.folder / "respondents.csv", dtype=str)
    assert resp["respondent_id"].is_unique  # 序号 1.. in each file: the file name prefixes it
    assert set(resp.loc[resp["township"] == "阿热勒乡", "respondent_id"]) == {
        f"阿热勒乡-{i}" for i in range(1, 17)}
    [p] = r.report["problems"]
    assert (p["file"], p["row"], p["column"], p["rule"]) == (
        f"survey/{PERIOD}/青河镇.xlsx", 5, "age", "age_under_18")
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str)
    assert rej["source_row"].tolist() == ["青河镇.xlsx:5"]
    assert r.report["survey_file"] == f"survey/{PERIOD}/"
    # the same respondents and answers as the canonical wave (ids apart)
    canon = pd.read_csv(pd.io.common.BytesIO(canonical["respondents.csv"]), dtype=str)
    key = ["village", "household_id"]
    cols = [c for c in canon if c not in ("respondent_id", "base_weight", "nr_weight", "weight")]
    same = resp.sort_values(key)[cols].reset_index(drop=True)
    want = canon[canon["respondent_id"] != rows[3]["respondent_id"]].sort_values(key)[cols]
    pd.testing.assert_frame_equal(same, want.reset_index(drop=True))


def test_xuhao_is_the_id_unique_within_a_file(tmp_path: Path):
    rows = good_rows()
    rows[5]["respondent_id"] = rows[2]["respondent_id"]
    raw = export_dataset(tmp_path / "raw", "text", rows=rows)
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert [(p["row"], p["rule"]) for p in r.report["problems"]] == [
        (7, "duplicate_respondent_id")]


def test_id_format(tmp_path: Path):
    raw = export_dataset(tmp_path / "raw", "text")
    rows = good_rows()
    header, cells = export_rows([dict(r, respondent_id=str(i + 1)) for i, r in
                                 enumerate(rows)], "text")
    write_export(raw / "survey" / f"{PERIOD}.csv", header, cells)
    (raw / "columns.toml").write_text(map_toml("text", "survey/*.csv", id_format="{period}-"
                                               "{id:06}"), "utf-8")
    resp = pd.read_csv(prepare_period(PERIOD, raw, tmp_path / "out").folder
                       / "respondents.csv", dtype=str)
    assert sorted(resp["respondent_id"])[:2] == [f"{PERIOD}-000001", f"{PERIOD}-000002"]


# -- values the map cannot place, other-option text ------------------------------------------

@pytest.mark.parametrize(("mode", "bad"), [("text", "非常安全"), ("number", "7"),
                                           ("number", "安全")])
def test_an_unplaceable_value_rejects_its_row_naming_file_row_header_value(
        tmp_path: Path, mode, bad):
    raw = export_dataset(tmp_path / "raw", mode)
    path = raw / "survey" / f"{PERIOD}.csv"
    lines = path.read_text("utf-8").splitlines()
    cells = lines[4].split(",")
    cells[-2] = bad  # q_security of spreadsheet row 5
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert r.rejected == 1
    [p] = r.report["problems"]  # the wave rules do not flag the same cell again
    assert p == {"file": f"survey/{PERIOD}.csv", "row": 5, "column": "11、安全感",
                 "value": bad, "rule": "unmapped_value"}
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str, keep_default_na=False)
    assert rej["source_row"].tolist() == ["5"] and rej["q_security"].tolist() == [bad]
    assert rej["reasons"].tolist() == ["unmapped_value(11、安全感)"]
    assert r.report["rule_counts"]["unmapped_value"] == 1
    assert "unmapped_value" in (r.folder / "validation.md").read_text("utf-8")


def test_other_text_never_reaches_processed_data(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    (raw / "survey" / f"{PERIOD}.csv").unlink()
    rows = good_rows()
    rows[0]["age"] = "16"  # a rejected row with other text as well
    header, cells = export_rows(rows, "text")
    col = header.index("8、知晓平安建设吗？")
    cells[0][col] = cells[1][col] = "其他〖邻居说的，秘密文本〗"
    write_export(raw / "survey" / f"{PERIOD}.csv", header, cells)
    extra = '[source.answers.q_awareness]\n"其他" = 9\n'
    (raw / "columns.toml").write_text(map_toml("text", f"survey/{PERIOD}.csv", extra), "utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert r.rejected == 1 and r.report["column_map"]["other_text_dropped"] == 2
    for f in r.folder.iterdir():
        text = f.read_text("utf-8")
        assert "秘密" not in text and "邻居" not in text and "〖" not in text, f.name
        assert "新疆-阿勒泰" not in text and "手机提交" not in text  # meta values neither
    resp = pd.read_csv(r.folder / "respondents.csv", dtype=str, keep_default_na=False)
    assert resp.loc[resp["respondent_id"] == rows[1]["respondent_id"], "awareness"].item() == ""


def test_unplaceable_other_text_is_shown_without_its_text(tmp_path: Path):
    raw = export_dataset(tmp_path / "raw", "text")
    path = raw / "survey" / f"{PERIOD}.csv"
    text = path.read_text("utf-8").splitlines()
    cells = text[1].split(",")
    cells[-2] = "其他〖秘密〗"
    text[1] = ",".join(cells)
    path.write_text("\n".join(text) + "\n", "utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    [p] = r.report["problems"]
    assert p["value"] == "其他〖…〗" and p["row"] == 2
    assert "秘密" not in (r.folder / "rejected.csv").read_text("utf-8")


# -- headers ------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "norm"), [
    ("6、您的性别：(单选题 *必答)", "6、您的性别"),
    ("6、您的性别：（单选题 *必答）", "6、您的性别"),
    ("10、满意程度【矩阵单选题】", "10、满意程度"), ("  年龄\t", "年龄"), ("年\u3000龄  ", "年 龄"),
    ("来自ＩＰ", "来自IP"), ("您家几人？ ", "您家几人"), ("7.家中  成年人数：", "7.家中 成年人数")])
def test_header_normalization(typed, norm):
    assert cm.normalize_header(typed) == norm


def test_duplicate_matrix_headers_need_nth(tmp_path: Path):
    raw = export_dataset(tmp_path / "raw", "text")
    toml = (raw / "columns.toml").read_text("utf-8").replace(
        'q_satisfaction = { question = "10、", nth = 1 }', 'q_satisfaction = "10、"')
    (raw / "columns.toml").write_text(toml, "utf-8")
    with pytest.raises(DataError, match=r'columns.toml: \[\[source\]\] 1 key "columns.'
                       r'q_satisfaction": 2 columns .* match 10、.*nth'):
        prepare_period(PERIOD, raw, tmp_path / "out")


# -- the map's own errors: the file, the source and the key -----------------------------------

@pytest.mark.parametrize(("edit", "key", "message"), [
    (lambda t: t.replace('mode = "number"', 'mode = "numbers"'), "mode", "text.*number"),
    (lambda t: t.replace('mode = "number"\n', ""), "mode", "expected"),
    (lambda t: t.replace("[source.answers.q_security]\n1 = 1",
                         "[source.answers.q_security]\nA = 1"), "answers.q_security.A",
     "whole number"),
    (lambda t: t + "[source.answers.q_other]\n1 = 1\n", "answers.q_other", "no entry"),
    (lambda t: t.replace("nth = 1", "nth = 0"), "columns.q_satisfaction", "nth"),
    (lambda t: t.replace("[[source]]\n", '[[source]]\nid = "x"\n'), "id", "{id}"),
    (lambda t: t.replace("[[source]]\n", "[[source]]\nsheet = 2\n"), "sheet", "unknown"),
    (lambda t: t.replace('files = ["survey/2026-11.csv"]', "files = []"), "files", "glob"),
    (lambda t: t.replace('household_id = "3、"', "household_id = 3"), "columns.household_id",
     "question number"),
    (lambda t: t.replace("[source.answers.sex]\n1", "[source.answers.sex]\n1 = true\n3"),
     "answers.sex.1", "code or a text"),
])
def test_map_errors_name_file_source_and_key(tmp_path: Path, edit, key, message):
    path = tmp_path / "columns.toml"
    path.write_text(edit(map_toml("number", f"survey/{PERIOD}.csv")), "utf-8")
    with pytest.raises(DataError, match=rf'columns.toml: \[\[source\]\] 1 key "{key}": '
                                        rf".*{message}"):
        cm.load_column_map(path)


def test_map_file_errors(tmp_path: Path):
    path = tmp_path / "columns.toml"
    for text, message in [("[[source]\n", "not a valid TOML"), ("x = 1\n", 'key "x"'),
                          ("", 'key "source"')]:
        path.write_text(text, "utf-8")
        with pytest.raises(DataError, match=f"columns.toml: {message}"):
            cm.load_column_map(path)


@pytest.mark.parametrize(("mode", "edit", "key", "message"), [
    ("text", lambda t: t.replace('q_security = "11、"', 'q_security = "12、"'),
     "columns.q_security", "no column 12、"),
    ("text", lambda t: t.replace('q_security = "11、"\n', ""), "columns.q_security", "missing"),
    ("text", lambda t: t.replace('q_security = "11、"', 'q_security = "11、"\nq_x = "1、"'),
     "columns.q_x", "unknown wave field"),
    ("number", lambda t: re.sub(r"\[source.answers.q_security\]\n(\d = \d\n)*", "", t),
     "answers.q_security", "number mode"),
    ("text", lambda t: t + '[source.answers.q_security]\n"特别安全" = 7\n',
     "answers.q_security.特别安全", "not a code"),
    ("text", lambda t: t.replace('household_id = "3、"', 'household_id = "1、"'),
     "columns.household_id", "also columns.township"),
])
def test_a_map_that_does_not_fit_the_export(tmp_path: Path, mode, edit, key, message):
    raw = export_dataset(tmp_path / "raw", mode)
    (raw / "columns.toml").write_text(edit((raw / "columns.toml").read_text("utf-8")), "utf-8")
    with pytest.raises(DataError, match=rf'columns.toml: \[\[source\]\] 1 key "{key}": '
                                        rf".*{message}"):
        prepare_period(PERIOD, raw, tmp_path / "out")
    assert not (tmp_path / "out" / PERIOD).exists()


def test_a_wave_folder_needs_the_map(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    (raw / "survey" / PERIOD).mkdir()
    shutil.move(raw / "survey" / f"{PERIOD}.csv", raw / "survey" / PERIOD / "a.csv")
    with pytest.raises(DataError, match="column map"):
        prepare_period(PERIOD, raw, tmp_path / "out")


def test_every_file_of_a_wave_folder_needs_a_source(tmp_path: Path):
    raw = export_dataset(tmp_path / "raw", "number", ".xlsx")
    (raw / "survey" / PERIOD).mkdir()
    shutil.move(raw / "survey" / f"{PERIOD}.xlsx", raw / "survey" / PERIOD / "a.xlsx")
    shutil.copy(raw / "survey" / PERIOD / "a.xlsx", raw / "survey" / PERIOD / "b.csv")
    (raw / "columns.toml").write_text(map_toml("number", f"survey/{PERIOD}/*.xlsx"), "utf-8")
    with pytest.raises(DataError, match=f"survey/{PERIOD}/b.csv: no \\[\\[source\\]\\] of "
                                        "columns.toml matches"):
        prepare_period(PERIOD, raw, tmp_path / "out")


def test_a_map_in_gbk_is_named(tmp_path: Path):
    path = tmp_path / "columns.toml"
    path.write_bytes(map_toml("text", "survey/*.csv").encode("gbk"))
    with pytest.raises(DataError, match="columns.toml: not UTF-8"):
        cm.load_column_map(path)


def test_the_template_is_a_valid_map():
    m = cm.load_column_map(Path(cm.__file__).parent / "templates" / "columns.toml")
    assert m.sources[0].mode == "text" and m.sources[0].answers["q_security"]["比较安全"] == "2"


# -- the sample county's two export waves ------------------------------------------------------

def test_sample_export_waves_give_the_canonical_waves_processed_data(tmp_path: Path,
                                                                     monkeypatch):
    exported = synth_county(tmp_path / "exported")
    monkeypatch.setattr(generate, "EXPORTS", {})  # the same waves in the canonical columns
    plain = synth_county(tmp_path / "plain")
    assert not (plain / "columns.toml").exists()
    assert (exported / "survey" / "2026-06").is_dir()
    assert (exported / "survey" / "2026-07.csv").read_bytes()[:4].decode("gbk") == "序号"
    for period in ("2026-06", "2026-07"):
        a = prepare_period(period, exported, tmp_path / "out_exported")
        b = prepare_period(period, plain, tmp_path / "out_plain")
        assert outputs(a.folder) == outputs(b.folder), period
        assert a.report["column_map"]["other_text_dropped"] > 0
        assert json.loads((a.folder / "validation.json").read_text("utf-8"))["counts"] == \
            b.report["counts"]
    same = [p.relative_to(plain).as_posix() for p in plain.rglob("*") if p.is_file()
            and "2026-06" not in p.name and "2026-07" not in p.name]
    for name in same:  # nothing else changes
        assert (exported / name).read_bytes() == (plain / name).read_bytes(), name


def test_the_wave_rules_apply_unchanged_after_the_map(tmp_path: Path):
    raw = export_dataset(tmp_path / "raw", "text")
    path = raw / "survey" / f"{PERIOD}.csv"
    lines = path.read_text("utf-8").splitlines()
    lines[2] += ",surplus"  # row 3: a cell beyond the header
    cells = lines[6].split(",")
    cells[1] = "05/11/2026 10:00:00"  # row 7: 提交答卷时间 day/month order unknown
    lines[6] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.1)
    got = [(p["row"], p["column"], p["rule"]) for p in r.report["problems"]]
    assert got == [(3, "_extra_cells", "too_many_cells"),
                   (7, "interview_date", "ambiguous_date")]
    assert all(p["file"] == f"survey/{PERIOD}.csv" for p in r.report["problems"])
