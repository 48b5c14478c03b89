"""Every validation rule, each on a small hand-made bad wave (see test_prepare.write_dataset)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_prepare import PERIOD, good_rows, write_csv, write_dataset

from pingan_eval.data.codebook import load_codebook
from pingan_eval.data.readers import read_census, read_fieldwork, read_frame, read_table
from pingan_eval.data.validation import (
    PII_COLUMNS,
    RULES,
    SURVEY_COLUMNS,
    rejected_rows,
    report_markdown,
    rule_counts,
    validate_wave,
)


def problems_of(raw: Path) -> pd.DataFrame:
    frame = read_frame(raw / "frame.csv")
    codebook = load_codebook(raw / "codebook.csv")
    wave = read_table(raw / "survey" / f"{PERIOD}.csv", [*SURVEY_COLUMNS, *codebook.columns],
                      ambiguous_dates_fatal=False)  # as prepare reads a wave
    return validate_wave(wave, file="survey/x.csv", period=PERIOD, frame=frame,
                         census=read_census(raw / "census.csv", frame["township"].unique()),
                         fieldwork=read_fieldwork(raw / "fieldwork" / f"{PERIOD}.csv", frame),
                         codebook=codebook)


def found(problems: pd.DataFrame) -> set[tuple[int, str, str, str]]:
    return set(problems[["row", "column", "value", "rule"]].itertuples(index=False, name=None))


def test_clean_wave_has_no_problem(tmp_path: Path):
    p = problems_of(write_dataset(tmp_path))
    assert p.empty and list(p.columns) == ["file", "row", "column", "value", "rule"]


# (row index in good_rows(), column, bad value, expected rule); file line = index + 2
CASES = [
    (0, "sex", "", "missing_required"),
    (3, "q_awareness", "", "missing_required"),
    (4, "township", "青河乡", "unknown_township"),
    (5, "village", "阿克苏村", "unknown_village"),
    (6, "village", "阿热勒村", "village_not_in_township"),  # row is in 青河镇
    (7, "village", "阔克托干村", "village_not_sampled"),
    (8, "interview_date", "2026/11/31", "invalid_date"),
    (9, "interview_date", "2026-11-31", "invalid_date"),
    (10, "interview_date", "2026-10-31", "date_outside_period"),
    (11, "sex", "M", "unknown_level"),
    (12, "ethnicity", "维吾尔族", "unknown_level"),
    (13, "age", "abc", "not_an_integer"),
    (14, "age", "30.5", "not_an_integer"),
    (15, "age", "17", "age_under_18"),
    (16, "age", "130", "age_implausible"),
    (17, "household_adults", "two", "not_an_integer"),
    (18, "household_adults", "0", "household_adults_below_1"),
    (19, "q_security", "7", "code_not_in_codebook"),
    (20, "q_participation", "x", "code_not_in_codebook"),
    (21, "interview_date", "05/11/2026", "ambiguous_date"),
    (22, "interview_date", "11/5/26", "ambiguous_date"),
]


@pytest.mark.parametrize("index,column,value,rule", CASES, ids=[f"{c[3]}-{c[1]}" for c in CASES])
def test_each_rule_on_a_bad_row(tmp_path: Path, index, column, value, rule):
    rows = good_rows()
    rows[index][column] = value
    assert found(problems_of(write_dataset(tmp_path, rows))) == {(index + 2, column, value, rule)}


def test_duplicate_id_rejects_the_later_rows(tmp_path: Path):
    rows = good_rows()
    rows[20]["respondent_id"] = rows[2]["respondent_id"]
    rows[25]["respondent_id"] = rows[2]["respondent_id"]
    rid = rows[2]["respondent_id"]
    assert found(problems_of(write_dataset(tmp_path, rows))) == {
        (22, "respondent_id", rid, "duplicate_respondent_id"),
        (27, "respondent_id", rid, "duplicate_respondent_id")}


def test_household_with_more_respondents_than_adults(tmp_path: Path):
    rows = good_rows()
    # rows 0 and 3 are households h1 (1 adult) and h4 (1 adult) of the same village:
    # make row 3 a second respondent of h1. Row 4 becomes a second respondent of h2, which
    # has 2 adults: still one respondent too many for the design, under another rule.
    # (Every village has its own h1..h8: the same id in two villages is no clash.)
    rows[3]["household_id"] = "h1"
    rows[4]["household_id"] = "h2"
    assert rows[0]["household_adults"] == "1" and rows[1]["household_adults"] == "2"
    rows[4]["household_adults"] = "2"
    assert found(problems_of(write_dataset(tmp_path, rows))) == {
        (5, "household_adults", "1", "household_adults_exceeded"),
        (6, "household_id", "h2", "duplicate_household")}


def test_village_missing_from_fieldwork(tmp_path: Path):
    raw = write_dataset(tmp_path)
    fw = pd.read_csv(raw / "fieldwork" / f"{PERIOD}.csv")
    fw[fw["village"] != "和谐社区"].to_csv(raw / "fieldwork" / f"{PERIOD}.csv", index=False)
    p = problems_of(raw)
    assert set(p["rule"]) == {"village_not_in_fieldwork"}
    assert list(p["row"]) == list(range(10, 18))  # the 8 respondents of 和谐社区


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path):
    rows = good_rows()
    rows[1].update(age="15", q_security="8", interview_date="")
    rows[30]["sex"] = "X"
    p = problems_of(write_dataset(tmp_path, rows))
    assert found(p) == {(3, "interview_date", "", "missing_required"),
                        (3, "age", "15", "age_under_18"),
                        (3, "q_security", "8", "code_not_in_codebook"),
                        (32, "sex", "X", "unknown_level")}
    assert list(p["row"]) == [3, 3, 3, 32]  # sorted by row, then rule order
    counts = rule_counts(p)
    assert list(counts) == list(RULES) and sum(counts.values()) == 4


def test_too_many_cells_and_row_numbers_after_blank_and_multiline_rows(tmp_path: Path):
    raw = write_dataset(tmp_path)
    path = raw / "survey" / f"{PERIOD}.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "")  # blank line 3: the first data row stays line 2, the next moves to 4
    lines[3] = lines[3] + ",surplus"
    # a quoted respondent_id spanning two lines (Alt+Enter) is one spreadsheet row
    lines[5] = '"x\ny' + lines[5][lines[5].index(","):].replace(",", '",', 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = problems_of(raw)
    assert found(p) == {(4, "_extra_cells", "1 extra cells", "too_many_cells")}
    wave = read_table(path)
    assert list(wave.index[:5]) == [2, 4, 5, 6, 7]
    assert wave.attrs["blank_rows"] == [3]
    assert wave.loc[6, "respondent_id"] == "x\ny"


def test_rejected_rows_keep_originals_and_drop_pii(tmp_path: Path):
    rows = good_rows()
    for r in rows:
        r.update(name="王芳", phone="13912345678", id_card="654321199001011234", 备注="ok")
    rows[2]["age"] = "16"
    raw = write_dataset(tmp_path, rows)
    wave = read_table(raw / "survey" / f"{PERIOD}.csv")
    rej = rejected_rows(wave, problems_of(raw), allowed=[*good_rows()[0]])
    assert list(rej.columns) == ["source_row", *good_rows()[0], "reasons"]  # 备注 not allowed
    assert rej.iloc[0].to_dict() == {"source_row": 4, **good_rows()[2], "age": "16",
                                     "reasons": "age_under_18(age)"}
    assert not set(PII_COLUMNS) & set(rej.columns)


def test_markdown_report_lists_counts_rules_and_problems(tmp_path: Path):
    rows = good_rows()
    rows[1]["age"] = "15"
    p = problems_of(write_dataset(tmp_path, rows))
    report = {"period": PERIOD, "status": "ok", "survey_file": "survey/x.csv",
              "encoding": "gb18030", "max_rejected": 0.05,
              "counts": {"read": 32, "kept": 31, "rejected": 1, "rejected_share": 1 / 32},
              "rule_counts": rule_counts(p), "inputs": {"survey/x.csv": "ab" * 32},
              "problems": [{"file": "survey/x.csv", "row": 3, "column": "age", "value": "15",
                            "rule": "age_under_18"}]}
    md = report_markdown(report)
    assert "剔除 rejected: 1 (3.12%)" in md
    assert "| survey/x.csv | 3 | age | 15 | `age_under_18` |" in md
    assert "| `age_under_18` | 年龄不满18岁 | age is below 18 | 1 |" in md
    assert "header is row 1" in md


def test_problem_values_are_the_text_as_typed_in_gbk_files(tmp_path: Path):
    rows = good_rows()
    rows[0]["township"] = "青河乡"
    raw = write_dataset(tmp_path, rows)
    write_csv(raw / "survey" / f"{PERIOD}.csv", rows, encoding="gbk")
    assert found(problems_of(raw)) == {(2, "township", "青河乡", "unknown_township")}
