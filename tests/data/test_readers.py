"""Reading raw tables: encodings, XLSX, row numbers and fatal errors naming file and column."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import pytest
from test_prepare import write_dataset

from pingan_eval.data.codebook import load_codebook
from pingan_eval.data.readers import (
    detect_encoding,
    parse_numbers,
    read_census,
    read_fieldwork,
    read_frame,
    read_table,
)
from pingan_eval.errors import DataError

TEXT = "township,village,age\n青河镇,团结社区,35\n阿热勒乡,喀让格托海村,72\n"


@pytest.mark.parametrize("encoding,detected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_round_trip_in_every_encoding(tmp_path: Path, encoding, detected, newline):
    path = tmp_path / "t.csv"
    path.write_bytes(TEXT.replace("\n", newline).encode(encoding))
    t = read_table(path, required=["village"])
    assert t.attrs["encoding"] == detected and t.attrs["blank_rows"] == []
    assert list(t.columns) == ["township", "village", "age"]  # no BOM left in the header
    assert t.to_dict("index") == {2: {"township": "青河镇", "village": "团结社区", "age": "35"},
                                  3: {"township": "阿热勒乡", "village": "喀让格托海村",
                                      "age": "72"}}
    assert t.index.name == "source_row"


def test_gb18030_only_characters(tmp_path: Path):
    path = tmp_path / "t.csv"
    name = "𠮷村"  # outside GBK: only GB18030 (4-byte) encodes it
    with pytest.raises(UnicodeEncodeError):
        name.encode("gbk")
    path.write_bytes(f"village\n{name}\n".encode("gb18030"))
    assert read_table(path).loc[2, "village"] == name


def test_detect_encoding():
    assert detect_encoding(b"plain ascii") == "utf-8"
    assert detect_encoding(codecs.BOM_UTF8 + b"x") == "utf-8-sig"
    with pytest.raises(UnicodeDecodeError):
        detect_encoding(b"a,b\n\x80\xff\n")


def test_xlsx_round_trip(tmp_path: Path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["respondent_id", " age ", "interview_date", "weight", "note"])
    ws.append(["r1", 35, dt.datetime(2026, 11, 3), 2.5, None])
    ws.append([None, None, None, None, None])  # blank row 3: skipped, numbering kept
    ws.append(["r2", 40.0, dt.date(2026, 11, 4), 1, "  hi "])
    wb.create_sheet("second").append(["ignored"])
    wb.save(tmp_path / "w.xlsx")
    t = read_table(tmp_path / "w.xlsx", required=["age"])
    assert t.attrs["encoding"] == "xlsx" and t.attrs["blank_rows"] == [3]
    assert t.to_dict("index") == {
        2: {"respondent_id": "r1", "age": "35", "interview_date": "2026-11-03",
            "weight": "2.5", "note": ""},
        4: {"respondent_id": "r2", "age": "40", "interview_date": "2026-11-04",
            "weight": "1", "note": "hi"}}


def test_missing_columns_are_fatal_and_named(tmp_path: Path):
    path = tmp_path / "survey.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}: missing required columns age, sex$"):
        read_table(path, required=["a", "age", "sex"])
    with pytest.raises(DataError, match=rf"^{path}: missing required column age$"):
        read_table(path, required=["age"])


@pytest.mark.parametrize("content,message", [
    (b"a,b\n\xff\xfe\x80\n", r"unreadable: not UTF-8, GBK or GB18030 text \(bad byte at offset"),
    (b"", r"unreadable: the file is empty"),
    (b"\n\n", r"unreadable: the file is empty"),
    (b"a,a\n1,2\n", r"unreadable header: column 'a' appears twice"),
    (b"a,,b\n1,2,3\n", r"unreadable header: a header cell is empty"),
    (b'a,b\n"1,2\n', r"unreadable CSV near line"),
])
def test_unreadable_csv(tmp_path: Path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"^{path}: {message}"):
        read_table(path)


def test_missing_and_corrupt_files(tmp_path: Path):
    with pytest.raises(DataError, match=r"nope.csv: file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "w.xlsx").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match=r"w.xlsx: unreadable XLSX workbook"):
        read_table(tmp_path / "w.xlsx")


def test_short_rows_are_padded_and_long_rows_keep_their_surplus(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c,,\n1,2\n1,2,3,4,5\n", encoding="utf-8")
    t = read_table(path)
    assert list(t.columns) == ["a", "b", "c", "_extra_cells"]  # trailing empty header dropped
    assert t.loc[2].tolist() == ["1", "2", "", ""]
    assert t.loc[3].tolist() == ["1", "2", "3", "4,5"]


def test_parse_numbers_names_row_and_column(tmp_path: Path):
    path = tmp_path / "frame.csv"
    path.write_text("households\n12\n\n3.5\n", encoding="utf-8")
    t = read_table(path)
    with pytest.raises(DataError, match=rf"^{path}: row 4, column households: value '3.5' is "
                       r"not a whole number >= 1$"):
        parse_numbers(t, ["households"], minimum=1)
    assert parse_numbers(t, ["households"], integer=False)["households"].tolist() == [12, 3.5]


def test_reference_tables_fail_loudly(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    frame = read_frame(raw / "frame.csv")
    assert len(frame) == 6 and frame["sampled"].sum() == 4
    text = (raw / "frame.csv").read_text(encoding="utf-8")
    (raw / "frame.csv").write_text(text.replace(",0.6\n", ",\n"), encoding="utf-8")
    with pytest.raises(DataError, match=r"frame.csv: row 2, column psu_prob: value '' of a "
                       r"sampled village is not in \(0, 1\]"):
        read_frame(raw / "frame.csv")

    census = (raw / "census.csv").read_text(encoding="utf-8")
    (raw / "census.csv").write_text(census.replace("女,520", "女,521", 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"township '青河镇': margin totals disagree "
                       r"\(sex 1021, age_group 1020, ethnicity 1020\)"):
        read_census(raw / "census.csv", frame["township"])
    (raw / "census.csv").write_text(census.replace("18-34", "18-30", 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"column level: age group '18-30' is not one of"):
        read_census(raw / "census.csv", frame["township"])

    fw = raw / "fieldwork" / "2026-11.csv"
    fw.write_text(fw.read_text(encoding="utf-8").replace("10,8", "10,11", 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2, column households_responded: exceeds"):
        read_fieldwork(fw, frame)


def test_codebook_checks(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    cb = load_codebook(raw / "codebook.csv")
    q = cb.questions[cb.columns.index("q_security")]
    assert (sorted(q.positive), sorted(q.missing)) == ([1, 2, 3], [9])
    assert q.scores == {1: 100.0, 2: 75.0, 3: 50.0, 4: 25.0, 5: 0.0}
    assert q.labels[3] == "基本安全"
    text = (raw / "codebook.csv").read_text(encoding="utf-8")
    for old, new, message in [
        ("q_security,security,9,说不清,0,,1", "q_security,security,9,说不清,1,,1",
         "cannot be both positive and missing"),
        ("q_security,security,5,不安全,0,0,0", "q_security,security,5,不安全,0,,0",
         "scores some codes but not this one"),
        ("q_awareness,awareness", "q_awareness,awarenes", "unknown indicator 'awarenes'"),
        ("q_security,security,5,", "q_security,security,4,", "code 4 repeats"),
    ]:
        assert old in text
        (raw / "codebook.csv").write_text(text.replace(old, new), encoding="utf-8")
        with pytest.raises(DataError, match=message):
            load_codebook(raw / "codebook.csv")
