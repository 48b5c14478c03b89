"""A re-run of some townships keeps the county-wide files whole.

``pingan-eval batch --townships A`` over a folder that already holds a run of the
period replaces A's rows in ``summary.csv`` / ``summary.xlsx`` and A's entry in
``index.html``, and keeps the other townships' (their reports stay linked).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest

from pingan_eval import paths
from pingan_eval.batch.run import run_batch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPORT_NB = FIXTURES / "report_fixture.nb.json"
PERIOD = "2026-11"
FILES = ("summary.csv", "summary.xlsx", "index.html")


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    from pingan_eval.data.prepare import prepare_period

    out = tmp_path_factory.mktemp("processed")
    prepare_period(PERIOD, paths.SAMPLE_RAW_DIR, out)
    return out


def _run(out: Path, processed: Path, townships: list[str]):
    return run_batch(PERIOD, townships=townships, jobs=1, out_dir=out,
                     processed_dir=processed, timeout=120, progress=False,
                     township_notebook=REPORT_NB, county_notebook=REPORT_NB,
                     department_notebook=REPORT_NB)


def _users(folder: Path, departments: bool = False) -> pd.DataFrame:
    """The users' summary; without the department rows (they follow the areas) unless
    ``departments``."""
    users = pd.read_csv(folder / "summary.csv", encoding="utf-8-sig", dtype={"period": str})
    return users if departments else users[users["area_level"] != "department"]


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_subset_rerun_keeps_the_other_townships(processed, tmp_path):
    """Re-running one township of two on the same inputs leaves the summary files and
    the index byte for byte as the run of both wrote them; the manifest lists the kept
    township with the start of the run that rendered it, through later re-runs too."""
    folder = tmp_path / PERIOD
    _run(tmp_path, processed, ["青河镇", "塔克什肯镇"])
    first = {name: (folder / name).read_bytes() for name in FILES}
    first_start = _manifest(folder)["start"]
    report = (folder / "塔克什肯镇.html").read_bytes()

    result = _run(tmp_path, processed, ["青河镇"])
    assert list(dict.fromkeys(_users(folder)["area"])) == ["青河县", "青河镇", "塔克什肯镇"]
    assert {name: (folder / name).read_bytes() for name in FILES} == first
    assert result.kept == ("塔克什肯镇",)
    assert [r.area for r in result.notebooks] == ["青河县", "县直部门", "青河镇"]
    fresh_areas = result.summary.loc[result.summary["area_level"] != "department", "area"]
    assert list(dict.fromkeys(fresh_areas)) == ["青河县", "青河镇", "塔克什肯镇"]
    assert (folder / "塔克什肯镇.html").read_bytes() == report  # not re-rendered
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert f'href="{quote("塔克什肯镇.html")}"' in page

    _run(tmp_path, processed, ["青河镇"])  # kept again: still from the first run
    manifest = _manifest(folder)
    rows = {row["area"]: row for row in manifest["notebooks"]}
    assert list(rows) == ["青河县", "县直部门", "青河镇", "塔克什肯镇"]
    assert rows["塔克什肯镇"]["kept_from"] == first_start and rows["塔克什肯镇"]["status"] == "ok"
    assert rows["塔克什肯镇"]["html"] == "塔克什肯镇.html"
    assert "kept_from" not in rows["青河镇"] and manifest["parameters"]["townships"] == ["青河镇"]
    assert {name: (folder / name).read_bytes() for name in FILES} == first


def test_subset_rerun_replaces_only_the_rerun_areas(processed, tmp_path):
    """The re-run township's rows are this run's; the others are the earlier run's, as
    written (here marked by hand to tell them apart), in the xlsx too; a new township
    joins the files in plan order."""
    folder = tmp_path / PERIOD
    _run(tmp_path, processed, ["塔克什肯镇", "青河镇"])
    users = _users(folder)
    fresh = users.loc[users["area"] == "青河镇", "estimate"].reset_index(drop=True)
    marked = users.assign(estimate=users["estimate"].where(users["area"] == "青河县", 0.123))
    (folder / "summary.csv").write_text("\ufeff" + marked.to_csv(index=False, lineterminator="\n"),
                                        encoding="utf-8")

    result = _run(tmp_path, processed, ["阿热勒乡", "青河镇"])  # 阿热勒乡 fails (fixture)
    users = _users(folder)
    assert list(dict.fromkeys(users["area"])) == ["青河县", "青河镇", "塔克什肯镇", "阿热勒乡"]
    assert result.kept == ("塔克什肯镇",)
    by_area = users.groupby("area", sort=False)["estimate"]
    pd.testing.assert_series_equal(  # replaced: the mark is gone
        by_area.get_group("青河镇").reset_index(drop=True), fresh)
    assert set(by_area.get_group("塔克什肯镇").dropna()) == {0.123}  # kept as written
    xlsx = pd.read_excel(folder / "summary.xlsx", dtype={"period": str}, engine="openpyxl")
    pd.testing.assert_frame_equal(xlsx, _users(folder, departments=True), check_dtype=False)
    page = (folder / "index.html").read_text(encoding="utf-8")
    for name in ("青河镇", "塔克什肯镇", "阿热勒乡"):
        assert f'href="{quote(name + ".html")}"' in page
    assert "bad data for 阿热勒乡" in page
    assert _manifest(folder)["failed"] == ["阿热勒乡"]
