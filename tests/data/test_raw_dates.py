"""Excel's own dates (``2026/11/5``, ``2026年11月5日``, a date cell with a time) in every
date column the readers parse, and older ``.xls`` workbooks (written to tmp_path, never
under data/raw).

``tests/fixtures/survey_2026-11.xls`` is the wave of ``test_prepare.good_rows()`` saved by
LibreOffice (``soffice --headless --convert-to xls``, filter "MS Excel 97") from an
openpyxl workbook: ``interview_date`` of row 2 is a date cell with the time 10:21:33, of
row 3 the text ``2026年11月4日``, of the other rows date cells; numbers are number cells.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_prepare import PERIOD, good_rows, write_dataset

from pingan_eval import paths
from pingan_eval.data.prepare import available_periods, prepare_period
from pingan_eval.data.readers import read_table
from pingan_eval.errors import DataError

XLS = Path(__file__).resolve().parents[1] / "fixtures" / "survey_2026-11.xls"


def _dated(dates: dict[int, str]) -> list[dict[str, str]]:
    rows = good_rows()
    for i, text in dates.items():
        rows[i]["interview_date"] = text
    return rows


# -- (1) Excel's date forms ----------------------------------------------------------------

def test_unambiguous_excel_dates_are_normalized_and_counted_in_the_report(tmp_path: Path):
    rows = _dated({0: "2026/11/3", 1: "2026/11/4", 2: "2026年11月5日", 3: "2026-11-06 10:21:33",
                   4: "2026/11/7 0:00", 5: "2026/11/08"})
    rows[1]["age"] = "17"  # rejected: its date is given back as typed
    r = prepare_period(PERIOD, write_dataset(tmp_path / "raw", rows), tmp_path / "out",
                       max_rejected=0.1)
    assert (r.read, r.kept, r.rejected) == (32, 31, 1)
    assert r.report["dates_normalized"] == [
        {"column": "interview_date", "form": "YYYY-MM-DD hh:mm:ss (time dropped)", "count": 1},
        {"column": "interview_date", "form": "YYYY/M/D", "count": 2},
        {"column": "interview_date", "form": "YYYY/M/D hh:mm (midnight)", "count": 1},
        {"column": "interview_date", "form": "YYYY/MM/DD", "count": 1},
        {"column": "interview_date", "form": "YYYY年M月D日", "count": 1}]
    assert json.loads((r.folder / "validation.json").read_text("utf-8"))["dates_normalized"] \
        == r.report["dates_normalized"]
    md = (r.folder / "validation.md").read_text("utf-8")
    assert "`interview_date` 2 × `YYYY/M/D`" in md and "the time of day was dropped" in md
    resp = pd.read_csv(r.folder / "respondents.csv", dtype=str)
    got = dict(zip(resp["respondent_id"], resp["interview_date"], strict=True))
    want = {row["respondent_id"]: row["interview_date"] for row in good_rows()}
    del want[rows[1]["respondent_id"]]
    assert got == want
    rej = pd.read_csv(r.folder / "rejected.csv", dtype=str, keep_default_na=False)
    assert rej[["source_row", "interview_date", "reasons"]].values.tolist() == [
        ["3", "2026/11/4", "age_under_18(age)"]]


def test_a_clean_iso_wave_reports_no_normalized_dates(tmp_path: Path):
    r = prepare_period(PERIOD, write_dataset(tmp_path / "raw"), tmp_path / "out")
    assert r.report["dates_normalized"] == []
    assert "Dates normalized" not in (r.folder / "validation.md").read_text("utf-8")


def test_xlsx_date_cell_with_a_time_is_a_date(tmp_path: Path):
    from openpyxl import load_workbook

    raw = write_dataset(tmp_path / "raw", fmt="xlsx")
    path = raw / "survey" / f"{PERIOD}.xlsx"
    wb = load_workbook(path)
    col = [c.value for c in wb.active[1]].index("interview_date") + 1
    wb.active.cell(row=2, column=col).value = dt.datetime(2026, 11, 3, 10, 21, 33)
    wb.active.cell(row=3, column=col).value = dt.datetime(2026, 11, 4)  # midnight: a date
    wb.save(path)
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert (r.read, r.kept, r.rejected) == (32, 32, 0)
    assert r.report["dates_normalized"] == [
        {"column": "interview_date", "form": "YYYY-MM-DD hh:mm:ss (time dropped)", "count": 1}]


def test_ambiguous_dates_reject_the_row_with_their_own_rule(tmp_path: Path):
    rows = _dated({0: "05/11/2026", 1: "11/5/26", 2: "25/11/2026", 3: "26/11/5",
                   4: "11/05/2026 10:21", 5: "2026/2/30"})
    r = prepare_period(PERIOD, write_dataset(tmp_path / "raw", rows), tmp_path / "out",
                       max_rejected=0.5)
    assert [(p["row"], p["value"], p["rule"]) for p in r.report["problems"]] == [
        (2, "05/11/2026", "ambiguous_date"), (3, "11/5/26", "ambiguous_date"),
        (4, "25/11/2026", "ambiguous_date"), (5, "26/11/5", "ambiguous_date"),
        (6, "11/05/2026 10:21", "ambiguous_date"), (7, "2026/2/30", "invalid_date")]
    assert r.report["rule_counts"]["ambiguous_date"] == 5
    assert r.report["dates_normalized"] == []
    md = (r.folder / "validation.md").read_text("utf-8")
    assert "| `ambiguous_date` |" in md and "day/month order unknown" in md


def test_register_dates_in_excel_forms_are_read_and_ambiguous_ones_are_fatal(tmp_path: Path):
    from pingan_eval.registers.cell_inputs import load_registers

    raw = tmp_path / "raw"
    shutil.copytree(paths.SAMPLE_RAW_DIR / "registers", raw / "registers")
    path = raw / "registers" / "safe_cells.csv"
    text = path.read_text("utf-8")
    lines = text.splitlines()
    cells = lines[1].split(",")  # F0100001: applied 2026-03-05, named 2026-04-14
    assert cells[4:6] == ["2026-03-05", "2026-04-14"]
    cells[4], cells[5] = "2026/3/5", "2026年4月14日 9:30"
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", "utf-8")
    reg, _ = load_registers(raw)
    want, _ = load_registers(paths.SAMPLE_RAW_DIR)
    pd.testing.assert_frame_equal(reg, want, check_like=True)
    assert read_table(path).attrs["dates_normalized"] == [
        {"column": "applied_on", "form": "YYYY/M/D", "count": 1},
        {"column": "named_on", "form": "YYYY年M月D日 hh:mm (time dropped)", "count": 1}]
    cells[5] = "04/14/2026"
    path.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", "utf-8")
    with pytest.raises(DataError, match=rf"^{path}: row 2, column named_on: ambiguous_date: "
                                        r"'04/14/2026': day/month order unknown"):
        load_registers(raw)


def test_task_log_dates_in_excel_forms_are_read(tmp_path: Path):
    from pingan_eval.registers.tasks import load_tasks, task_completion

    raw = tmp_path / "raw"
    shutil.copytree(paths.SAMPLE_RAW_DIR / "tasks", raw / "tasks")
    for name, col in (("cadre_test", "test_date"), ("signboards", "as_of")):
        t = pd.read_csv(raw / "tasks" / f"{name}.csv", dtype=str, keep_default_na=False)
        d = pd.to_datetime(t[col])
        t[col] = [f"{x.year}/{x.month}/{x.day}" if i % 2 else f"{x.year}年{x.month}月{x.day}日"
                  for i, x in enumerate(d)]
        t.to_csv(raw / "tasks" / f"{name}.csv", index=False)
    got = task_completion(load_tasks(raw))
    want = task_completion(load_tasks(paths.SAMPLE_RAW_DIR))
    pd.testing.assert_frame_equal(got, want)


def test_every_documented_date_column_is_normalized():
    from pingan_eval.data.dates import DATE_COLUMNS
    from pingan_eval.plan.schema import TASK_TABLES
    from pingan_eval.registers import cell_inputs

    task_dates = {c for t in TASK_TABLES.values() for c in (*t.observed, *t.events)}
    assert {"interview_date", *cell_inputs._DATES, *task_dates} <= DATE_COLUMNS


# -- (2) older .xls workbooks --------------------------------------------------------------

def test_xls_workbook_reads_like_its_csv(tmp_path: Path):
    t = read_table(XLS)
    assert t.attrs["encoding"] == "xls" and t.attrs["blank_rows"] == []
    want = pd.DataFrame(good_rows(), index=pd.Index(range(2, 34), name="source_row"))
    pd.testing.assert_frame_equal(t, want, check_dtype=False)
    assert t.attrs["dates_normalized"] == [
        {"column": "interview_date", "form": "YYYY-MM-DD hh:mm:ss (time dropped)", "count": 1},
        {"column": "interview_date", "form": "YYYY年M月D日", "count": 1}]


def test_prepare_reads_an_xls_wave(tmp_path: Path):
    raw = write_dataset(tmp_path / "raw")
    (raw / "survey" / f"{PERIOD}.csv").unlink()
    shutil.copy(XLS, raw / "survey" / f"{PERIOD}.xls")
    assert available_periods(raw) == [PERIOD]
    r = prepare_period(PERIOD, raw, tmp_path / "out")
    assert (r.read, r.kept, r.rejected) == (32, 32, 0)
    assert r.report["survey_file"] == f"survey/{PERIOD}.xls" and r.report["encoding"] == "xls"
    csv = prepare_period(PERIOD, write_dataset(tmp_path / "raw_csv"), tmp_path / "out_csv")
    assert (r.folder / "respondents.csv").read_bytes() == \
        (csv.folder / "respondents.csv").read_bytes()


def test_a_damaged_xls_is_a_one_line_data_error_saying_how_to_convert(tmp_path: Path):
    path = tmp_path / "w.xls"
    path.write_bytes(XLS.read_bytes()[:3000])  # truncated
    with pytest.raises(DataError) as err:
        read_table(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: unreadable XLS workbook") and "另存为 .xlsx" in msg
    assert "\n" not in msg
    html = tmp_path / "export.xls"  # a web system's "xls" that is really HTML
    html.write_text("<html><table><tr><td>a</td></tr></table></html>", "utf-8")
    with pytest.raises(DataError, match=r"unreadable XLS workbook .*另存为 \.xlsx"):
        read_table(html)
