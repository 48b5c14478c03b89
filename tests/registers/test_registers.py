"""The batch's register cache: judged once, written, read back equal, and shown the same."""

from __future__ import annotations

import pandas as pd
import pytest

from pingan_eval import paths, report
from pingan_eval.errors import ReportError
from pingan_eval.plan import load_plan
from pingan_eval.registers.judge import (
    RegisterTables,
    judge_registers,
    read_register_tables,
    write_register_tables,
)

PLAN = load_plan()
PERIOD = "2026-11"
TABLES = ("naming_rates", "defects", "standards", "structural", "skipped_checks", "tasks")


@pytest.fixture(scope="module")
def judged() -> RegisterTables:
    return judge_registers(PERIOD, raw_dir=paths.SAMPLE_RAW_DIR, plan=PLAN)


def test_cache_round_trip_keeps_values_and_types(judged, tmp_path):
    back = read_register_tables(write_register_tables(judged, tmp_path))
    assert back.has_register and judged.has_register
    for name in TABLES:
        # pandas' string dtype comes back as object: same values, same numeric/date types
        pd.testing.assert_frame_equal(getattr(back, name), getattr(judged, name),
                                      check_dtype=False, obj=name)
    assert back.naming_rates["window_end"].dtype.kind == "M"
    assert back.standards["standard"].dtype == bool
    assert back.tasks["due"].dtype.kind == "M" and back.tasks["village"].isna().sum() == 0
    # blank text stays "" (a village-less task row), never NaN
    assert (back.tasks["village"] == "").any()


def test_detail_from_cache_equals_detail_computed_here(judged, tmp_path):
    folder = write_register_tables(judged, tmp_path / "registers")
    for area in (PLAN.county, "青河镇", "阿热勒乡"):
        here = report.register_detail(area, PERIOD, plan=PLAN)
        cached = report.register_detail(area, PERIOD, plan=PLAN,
                                        registers=read_register_tables(folder))
        # text comes back as pandas' string dtype: the same values on the page
        pd.testing.assert_frame_equal(cached.cells, here.cells, check_dtype=False)
        pd.testing.assert_frame_equal(cached.defects, here.defects, check_dtype=False)
        assert cached.note == here.note
        pd.testing.assert_frame_equal(
            report.task_detail(area, PERIOD, plan=PLAN, registers=read_register_tables(folder)),
            report.task_detail(area, PERIOD, plan=PLAN), check_dtype=False)


def test_survey_only_dataset_round_trips(tmp_path):
    empty = tmp_path / "raw"
    empty.mkdir()
    judged = judge_registers(PERIOD, raw_dir=empty, plan=PLAN)
    assert not judged.has_register and judged.tasks.empty
    back = read_register_tables(write_register_tables(judged, tmp_path / "cache"))
    assert not back.has_register
    detail = report.register_detail("青河镇", PERIOD, plan=PLAN,
                                    registers=back)
    assert detail.cells.empty and "未提供" in detail.note
    assert report.task_detail("青河镇", PERIOD, plan=PLAN,
                              registers=back).empty


def test_damaged_cache_names_the_file_and_column(judged, tmp_path):
    folder = write_register_tables(judged, tmp_path)
    rates = (folder / "naming_rates.csv").read_text(encoding="utf-8")
    (folder / "naming_rates.csv").write_text(rates.replace(",3,3,", ",3,x,", 1),
                                            encoding="utf-8")
    with pytest.raises(ReportError, match=r"naming_rates\.csv: column 'named' is not int"):
        read_register_tables(folder)
    (folder / "naming_rates.csv").write_text(rates, encoding="utf-8")
    (folder / "tasks.csv").unlink()
    with pytest.raises(ReportError, match=r"tasks\.csv: missing"):
        read_register_tables(folder)
