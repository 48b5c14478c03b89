"""Hardening of the raw readers and of prepare: Excel's trailing cells, personal data,
stray quotes and damaged workbooks (each written to tmp_path, never under data/raw)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from test_prepare import PERIOD, good_rows, write_csv, write_dataset, write_xlsx

from pingan_eval.cli import main
from pingan_eval.data import validation
from pingan_eval.data.prepare import prepare_period
from pingan_eval.data.readers import read_table
from pingan_eval.data.validation import SURVEY_COLUMNS
from pingan_eval.errors import DataError, ValidationFailed


def _survey(raw: Path) -> Path:
    return raw / "survey" / f"{PERIOD}.csv"


# -- 1. empty trailing cells are not data ----------------------------------------------------

def test_csv_lines_ending_in_empty_cells_are_kept(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    path = _survey(raw)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\r\n".join(line + ",,  ," for line in lines) + "\r\n,,,,\r\n",
                    encoding="utf-8")
    t = read_table(path)
    assert "_extra_cells" not in t.columns and len(t) == 32
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert (r.read, r.kept, r.rejected) == (32, 32, 0)


def test_only_a_non_empty_cell_beyond_the_header_is_a_row_problem(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    path = _survey(raw)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [line + ",," for line in lines]
    lines[4] += ",x,,"  # row 5: cells 3 beyond the header hold "x"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.1)
    assert (r.read, r.kept, r.rejected) == (32, 31, 1)
    assert [(p["row"], p["rule"], p["value"]) for p in r.report["problems"]] == [
        (5, "too_many_cells", "3 extra cells")]
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str, keep_default_na=False)
    assert "_extra_cells" not in rej.columns  # surplus cells are unknown data: never written


def test_xlsx_with_formatted_and_blank_text_cells_right_of_the_data(tmp_path: Path):
    from openpyxl import load_workbook
    from openpyxl.styles import Font

    raw = write_dataset(tmp_path / "raw", fmt="xlsx")
    path = raw / "survey" / f"{PERIOD}.xlsx"
    wb = load_workbook(path)
    ws = wb.active
    width = ws.max_column
    for row in range(1, 40):
        ws.cell(row=row, column=width + 2).font = Font(bold=True)  # formatted, no value
    ws.cell(row=2, column=16384).font = Font(italic=True)  # a formatted cell in XFD
    ws.cell(row=3, column=width + 1).value = "   "  # blank text
    ws.cell(row=1, column=width + 1).value = " "
    wb.save(path)
    t = read_table(path)
    assert "_extra_cells" not in t.columns and len(t) == 32 and t.attrs["blank_rows"] == []
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert (r.read, r.kept, r.rejected) == (32, 32, 0)


# -- 3. personal data never leaves the raw file ----------------------------------------------

PERSONAL = ["身份证号码", "联系电话", "手机号码", "户主姓名", "Name", "ID", "mobile", "ＮＡＭＥ",
            "Tel", "证件号", "名字", "Phone Number", "ID_Card"]


@pytest.mark.parametrize("column", PERSONAL)
def test_personal_column_names_are_recognised(column):
    assert validation.is_personal_column(column)


@pytest.mark.parametrize("column", [*SURVEY_COLUMNS, "q_security", "note", "hotel", "备注"])
def test_wave_columns_are_not_personal(column):
    assert not validation.is_personal_column(column)


def test_no_personal_or_unknown_column_reaches_any_output(tmp_path: Path):
    rows = good_rows()
    secrets = []
    for i, r in enumerate(rows):
        for j, col in enumerate([*PERSONAL, "note", "备注"]):
            r[col] = f"SECRET{i:02d}x{j:02d}"
            secrets.append(r[col])
    for r in rows[:4]:
        r["age"] = "16"
    raw = write_dataset(tmp_path / "raw", rows)
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.2)
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str, keep_default_na=False)
    assert list(rej.columns) == ["source_row", *good_rows()[0], "reasons"]
    assert sorted(r.report["personal_data_columns_dropped"]) == sorted(PERSONAL)
    assert r.report["other_columns_dropped"] == ["note", "备注"]
    # the whole wave rejected: .failed/ must not hold personal data either
    for r_ in rows:
        r_["age"] = "16"
    write_csv(_survey(raw), rows)
    with pytest.raises(ValidationFailed):
        prepare_period(PERIOD, raw, tmp_path / "out")
    files = [*r.folder.iterdir(), *(tmp_path / "out" / f"{PERIOD}.failed").iterdir()]
    failed = json.loads((tmp_path / "out" / f"{PERIOD}.failed" / "validation.json")
                        .read_text(encoding="utf-8"))
    assert failed["counts"]["rejected"] == 32
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert "SECRET" not in text, f


# -- 6. stray quotes never merge rows silently -----------------------------------------------

def _with_note(tmp_path: Path) -> tuple[Path, list[str]]:
    rows = good_rows()
    for r in rows:
        r["note"] = "ok"
    raw = write_dataset(tmp_path / "raw", rows)
    return raw, _survey(raw).read_text(encoding="utf-8").splitlines()


def test_stray_quote_spanning_three_rows_rejects_each_row(tmp_path: Path):
    raw, lines = _with_note(tmp_path)
    lines[4] = lines[4][:-2] + '"ok'   # line 5: a quote opens in the note ...
    lines[6] = lines[6][:-2] + 'ok"'   # ... and closes on line 7: three interviews
    _survey(raw).write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.2)
    assert (r.read, r.kept, r.rejected) == (32, 29, 3)
    quote = [p for p in r.report["problems"] if p["rule"] == "unbalanced_quote"]
    assert [(p["row"], p["column"]) for p in quote] == [(5, "note"), (6, "note"), (7, "note")]
    assert all("line 5" in p["value"] for p in quote)
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str, keep_default_na=False)
    assert list(rej["source_row"]) == ["5", "6", "7"]
    assert rej.loc[1, "respondent_id"] == good_rows()[4]["respondent_id"]


def test_stray_quote_in_a_wave_column_merging_two_rows(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    path = _survey(raw)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[9] = lines[9][:-1] + '"' + lines[9][-1]   # line 10: q_legal_satisfaction "2
    lines[10] = lines[10] + '"'                       # line 11 ends in 3": the quote closes
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.2)
    assert (r.read, r.kept, r.rejected) == (32, 30, 2)
    assert {p["row"] for p in r.report["problems"] if p["rule"] == "unbalanced_quote"} == {10, 11}


def test_stray_quote_in_a_reference_table_is_fatal_and_names_the_line(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    fw = raw / "fieldwork" / f"{PERIOD}.csv"
    lines = fw.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",10,", ',"10,')
    lines[2] = lines[2] + '"'
    fw.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"fieldwork/2026-11.csv: line 2, column "
                       r"households_selected: a quote opened here closes on line 3"):
        read_table(fw)


def test_unclosed_quote_names_the_line_where_it_opened(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,2\n3,"4\n5,6\n7,8\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"unreadable CSV near line 5: .*quote opened on line 3"):
        read_table(path)


def test_alt_enter_cell_row_numbers_are_the_spreadsheet_rows(tmp_path: Path):
    rows = good_rows()
    rows[1]["household_id"] = "h2\n楼上, 东侧"   # Alt+Enter inside a cell (with a comma)
    rows[2]["age"] = "15"
    raw = write_dataset(tmp_path / "raw", rows)
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.1)
    assert (r.read, r.rejected) == (32, 1)
    assert [(p["row"], p["rule"]) for p in r.report["problems"]] == [(4, "age_under_18")]
    t = read_table(_survey(raw))
    assert list(t.index[:4]) == [2, 3, 4, 5] and t.loc[3, "household_id"] == "h2\n楼上, 东侧"


# -- 7. damaged workbooks name their file; --period all goes on -----------------------------

def _damage(path: Path, how: str) -> None:
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            if info.filename == "xl/worksheets/sheet1.xml":
                if how == "truncated":
                    data = data[: len(data) // 2]
                elif how == "garbage":
                    data = data[:300] + b"<<\x00" + data[320:]
                elif how == "bad_number":
                    data = data.replace(b"<v>22</v>", b"<v>2x2</v>", 1)
            out.writestr(info, data)
    if how == "bad_crc":
        blob = bytearray(path.read_bytes())
        at = blob.index(b"xl/worksheets/sheet1.xml") + 200
        blob[at:at + 8] = b"\x00" * 8
        path.write_bytes(bytes(blob))


@pytest.mark.parametrize("how", ["truncated", "garbage", "bad_number", "bad_crc"])
def test_damaged_sheet_inside_a_valid_zip_is_a_data_error(tmp_path: Path, how):
    path = write_xlsx(tmp_path / "w.xlsx", good_rows())
    _damage(path, how)
    with pytest.raises(DataError, match=rf"^{path}: unreadable XLSX workbook"):
        read_table(path)


def test_period_all_prepares_the_other_waves_and_lists_the_damaged_one(tmp_path: Path, capsys):
    raw = write_dataset(tmp_path / "raw")
    rows = good_rows()
    for r in rows:
        r["interview_date"] = r["interview_date"].replace(PERIOD, "2026-10")
    write_xlsx(raw / "survey" / "2026-10.xlsx", rows)
    _damage(raw / "survey" / "2026-10.xlsx", "truncated")
    pd.read_csv(raw / "fieldwork" / f"{PERIOD}.csv").to_csv(
        raw / "fieldwork" / "2026-10.csv", index=False)
    code = main(["prepare", "--period", "all", "--raw", str(raw), "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out.startswith(f"{PERIOD}: read 32, kept 32")
    assert "2026-10.xlsx: unreadable XLSX workbook" in captured.err
    assert captured.err.strip().splitlines()[-1] == "pingan-eval prepare: failed: 2026-10"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [PERIOD]


def test_empty_columns_left_of_or_between_the_data_are_not_data(tmp_path: Path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws["C3"], ws["E3"], ws["C4"], ws["E4"] = "a", "b", "1", "x"  # columns A, B, D empty
    wb.save(tmp_path / "w.xlsx")
    t = read_table(tmp_path / "w.xlsx")
    assert list(t.columns) == ["a", "b"] and t.to_dict("index") == {4: {"a": "1", "b": "x"}}
    (tmp_path / "t.csv").write_text(",a,,b,,\n,1,,2,,\n", encoding="utf-8")
    assert read_table(tmp_path / "t.csv").to_dict("index") == {2: {"a": "1", "b": "2"}}
    (tmp_path / "t.csv").write_text(",a,,b\n,1,,2\n,3,oops,4\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a header cell is empty \(column 3 holds data on row 3"):
        read_table(tmp_path / "t.csv")


def test_a_stray_quote_row_that_does_not_line_up_keeps_no_cells(tmp_path: Path):
    rows = good_rows()
    for i, r in enumerate(rows):
        r.update(addr="x", note="ok", phone=f"1390000{i:04d}")
    rows[3]["addr"] = "x,y"  # line 5: a quoted comma, written as "x,y"
    raw = write_dataset(tmp_path / "raw", rows)
    lines = _survey(raw).read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace(",ok,", ',"ok,', 1)      # a stray quote opens on line 5 ...
    lines[6] = lines[6].replace(",ok,", ',ok",', 1)      # ... and closes on line 7
    _survey(raw).write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = prepare_period(PERIOD, raw, tmp_path / "out", max_rejected=0.2)
    assert (r.read, r.rejected) == (32, 3)
    text = "".join(f.read_text(encoding="utf-8") for f in r.folder.iterdir())
    assert "1390000" not in text
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str, keep_default_na=False)
    # line 5 split at every comma has one cell too many: none of its cells is trusted
    assert rej.loc[0, "respondent_id"] == "" and "unbalanced_quote(note)" in rej.loc[0, "reasons"]
    assert rej.loc[1, "respondent_id"] == rows[4]["respondent_id"]
