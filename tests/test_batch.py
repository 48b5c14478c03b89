"""Tests of ``pingan-eval batch``: notebook runs, failures, timeouts, files, manifest.

Fixture notebooks (tests/fixtures/): ``report_fixture.ipynb`` prints the parameters it
received as JSON, draws a PNG with matplotlib, and raises ValueError in its last cell
when ``township == "阿热勒乡"``; ``report_sleeps.ipynb`` sleeps for two minutes.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from pingan_eval.batch import _execute, report_filenames
from pingan_eval.htmlexport import external_links
from pingan_eval.notebook_run import NotebookJob, run_notebook

FIXTURES = Path(__file__).parent / "fixtures"
REPORT_NB = FIXTURES / "report_fixture.ipynb"
SLEEP_NB = FIXTURES / "report_sleeps.ipynb"
ODD_NAME = '青河镇 "东"\'区\'\\ 1\n2 {x}'


def _job(tmp: Path, area: str, notebook: Path = REPORT_NB, timeout: float = 120,
         stem: str = "t") -> NotebookJob:
    return NotebookJob(area=area, level="township", notebook=str(notebook),
                       ipynb_path=str(tmp / f"{stem}.ipynb"), html_path=str(tmp / f"{stem}.html"),
                       parameters={"township": area, "period": "2026-11"}, timeout=timeout,
                       title=f"{area} 报告")


def _received(nb: nbformat.NotebookNode) -> dict:
    """The JSON line the fixture printed: the parameters as the kernel saw them."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("name") == "stdout" and out["text"].startswith("{"):
                return json.loads(out["text"])
    raise AssertionError("the fixture printed no parameters")


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("odd")
    return tmp, run_notebook(_job(tmp, ODD_NAME))


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crash")
    return tmp, run_notebook(_job(tmp, "阿热勒乡"))


def test_parameters_reach_the_notebook_intact(odd_run):
    tmp, result = odd_run
    assert result.status == "ok" and result.error is None
    nb = nbformat.read(tmp / "t.ipynb", as_version=4)
    assert _received(nb) == {"township": ODD_NAME, "period": "2026-11", "summary_path": None}
    assert nb.metadata.papermill.parameters["township"] == ODD_NAME


def test_html_has_outputs_only_and_works_offline(odd_run):
    tmp, _ = odd_run
    page = (tmp / "t.html").read_text(encoding="utf-8")
    assert "json.dumps" not in page and "plt.subplots" not in page  # no code
    assert "In&nbsp;[" not in page and "In [" not in page  # no prompts
    assert re.search(r'<img[^>]+src="data:image/png;base64,', page)  # image embedded
    assert external_links(page) == []
    assert "<script src=" not in page
    assert "青河镇" in page and "<title>" in page


def test_notebook_has_no_time_stamps(odd_run):
    tmp, result = odd_run
    text = (tmp / "t.ipynb").read_text(encoding="utf-8")
    assert "start_time" not in text and "end_time" not in text and '"duration"' not in text
    assert result.timings["kernel_start"] > 0 and result.timings["cells"] > 0
    assert 0 < result.timings["plot_cells"] <= result.timings["cells"]
    assert result.timings["cpu"] > 0


def test_crashing_cell_is_reported_with_cell_ename_evalue(crash_run):
    tmp, result = crash_run
    assert result.status == "failed"
    nb = nbformat.read(tmp / "t.ipynb", as_version=4)
    # papermill counts the injected-parameters cell and inserts its marker at the top
    assert result.error["ename"] == "ValueError"
    assert result.error["evalue"] == "bad data for 阿热勒乡"
    assert result.error["cell_index"] == 5
    assert result.error["source"] == "if township == '阿热勒乡':"
    failing = [c for c in nb.cells if c.get("metadata", {}).get("papermill", {}).get("exception")]
    assert len(failing) == 1 and "raise ValueError" in failing[0].source
    assert "ValueError" in (tmp / "t.html").read_text(encoding="utf-8")


def test_hanging_kernel_is_killed_after_timeout(tmp_path):
    t0 = time.perf_counter()
    result = run_notebook(_job(tmp_path, "x", SLEEP_NB, timeout=3))
    elapsed = time.perf_counter() - t0
    assert result.status == "timeout"
    assert result.error["ename"] == "Timeout" and result.error["source"] == "import time"
    assert elapsed < 20  # the cell sleeps 120 s
    nb = nbformat.read(tmp_path / "t.ipynb", as_version=4)
    assert "运行超时" in nb.cells[0].source  # the marker says why the report is short
    assert "started" in (tmp_path / "t.html").read_text(encoding="utf-8")


def test_rerun_gives_identical_bytes(crash_run, tmp_path):
    # a failed run has papermill's error markers as well as the injected parameters
    tmp, _ = crash_run
    again = run_notebook(_job(tmp_path, "阿热勒乡"))
    assert again.status == "failed"
    for suffix in (".ipynb", ".html"):
        first = (tmp / f"t{suffix}").read_bytes()
        assert (tmp_path / f"t{suffix}").read_bytes() == first, suffix


def test_failed_run_replaces_old_report_atomically(tmp_path):
    (tmp_path / "t.html").write_text("old", encoding="utf-8")
    run_notebook(_job(tmp_path, "x", SLEEP_NB, timeout=2))
    assert (tmp_path / "t.html").read_text(encoding="utf-8") != "old"
    assert not list(tmp_path.glob(".*.tmp"))


def test_report_filenames_are_distinct_and_portable():
    names = ["a/b", "a_b", "index", "INDEX", "con", " .x. ", "青河镇", 'q"?*', "", "county"]
    stems = report_filenames(names)
    assert len(set(s.lower() for s in stems.values())) == len(names)
    for stem in stems.values():
        assert stem and not re.search(r'[<>:"/\\|?*]', stem) and stem == stem.strip(" .")
        assert stem.lower() not in {"index", "county", "con", "summary", "manifest"}


def _jobs(tmp: Path) -> list[NotebookJob]:
    return [_job(tmp, "塔克什肯镇", stem="a"), _job(tmp, "阿热勒乡", stem="b")]


def test_local_pool_runs_all_and_keeps_order(tmp_path):
    results = _execute(_jobs(tmp_path), n_jobs=2, scheduler=None, progress=False,
                       period="2026-11")
    assert [r.area for r in results] == ["塔克什肯镇", "阿热勒乡"]
    assert [r.status for r in results] == ["ok", "failed"]
    assert (tmp_path / "a.html").is_file() and (tmp_path / "b.html").is_file()


def test_dask_local_cluster_runs_the_same_jobs(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        results = _execute(_jobs(tmp_path), n_jobs=2, scheduler=cluster.scheduler_address,
                           progress=False, period="2026-11")
    assert [r.status for r in results] == ["ok", "failed"]
    assert results[1].error["ename"] == "ValueError"
    nb = nbformat.read(tmp_path / "a.ipynb", as_version=4)
    assert _received(nb)["township"] == "塔克什肯镇"
