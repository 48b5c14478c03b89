"""Tests of ``pingan-eval batch``: notebook runs, failures, timeouts, files, manifest.

Fixture notebooks (tests/fixtures/): ``report_fixture.nb.json`` prints the parameters it
received as JSON, draws a PNG with matplotlib, and raises ValueError in its last cell
when ``township == "阿热勒乡"``; ``report_sleeps.nb.json`` sleeps for two minutes. They
are named ``.nb.json`` (papermill reads ``.ipynb`` and ``.json``) so that nbval, which
collects ``*.ipynb``, does not run them as tests.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import nbformat
import pandas as pd
import papermill
import pytest

from pingan_eval import paths
from pingan_eval.batch import kernels
from pingan_eval.batch.notebook_run import NotebookJob, run_notebook
from pingan_eval.batch.run import USER_COLUMNS, _execute, report_filenames, run_batch, worker_pool
from pingan_eval.cli import main
from pingan_eval.errors import ReportError
from pingan_eval.fileio import sha256_file
from pingan_eval.plan import load_plan
from pingan_eval.report.htmlexport import external_links
from pingan_eval.summary import read_summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPORT_NB = FIXTURES / "report_fixture.nb.json"
SLEEP_NB = FIXTURES / "report_sleeps.nb.json"
ODD_NAME = '青河镇 "东"\'区\'\\ 1\n2 {x}'


def _job(tmp: Path, area: str, notebook: Path = REPORT_NB, timeout: float = 120,
         stem: str = "t") -> NotebookJob:
    return NotebookJob(area=area, level="township", notebook=str(notebook),
                       ipynb_path=str(tmp / f"{stem}.ipynb"), html_path=str(tmp / f"{stem}.html"),
                       parameters={"township": area, "period": "2026-11"}, timeout=timeout,
                       title=f"{area} 报告")


def _probe_outputs(tmp: Path, stem: str) -> list[str]:
    """Run a notebook that prints where and how its kernel runs; its stdout lines."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("township = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(
                    "import os, sys, pingan_eval.labels as labels\n"
                    "labels.PROBE = getattr(labels, 'PROBE', 0) + 1  # a leak would show 2\n"
                    "print(os.getcwd() == os.path.dirname(os.path.abspath('probe.ipynb')),\n"
                    "      os.path.basename(os.getcwd()), labels.PROBE, township,\n"
                    "      sys.executable == os.environ.get('PROBE_PYTHON'),\n"
                    "      'JPY_PARENT_PID' in os.environ)")]
    source = tmp / "probe.ipynb"
    nbformat.write(nb, source)
    result = run_notebook(NotebookJob(
        area="x", level="township", notebook=str(source), ipynb_path=str(tmp / f"{stem}.ipynb"),
        html_path=str(tmp / f"{stem}.html"), parameters={"township": "青河镇"}, timeout=60,
        title="x"))
    assert result.status == "ok", result.error
    out = nbformat.read(tmp / f"{stem}.ipynb", as_version=4).cells[-1].outputs
    return [o["text"].strip() for o in out if o.get("name") == "stdout"]


@pytest.mark.skipif(not kernels.fork_available(), reason="kernels are forked on Linux only")
def test_forked_kernel_runs_like_an_ordinary_one(tmp_path, monkeypatch):
    """A forked kernel works in the notebook's folder with the kernel environment, each
    report in a new process (module state does not carry over), as an ordinary one."""
    monkeypatch.setenv("PROBE_PYTHON", sys.executable)
    forked = [_probe_outputs(tmp_path, "a"), _probe_outputs(tmp_path, "b")]
    monkeypatch.setenv("PINGAN_EVAL_FORK_KERNELS", "0")
    ordinary = _probe_outputs(tmp_path, "c")
    expected = [f"True {tmp_path.name} 1 青河镇 True True"]
    assert forked == [expected, expected] and ordinary == expected


def test_split_stream_messages_are_merged(tmp_path):
    """One print can reach the notebook as several stream messages, depending on when the
    kernel flushes (a rerun then differed); the written notebook merges them."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("x = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import sys\nsys.stdout.write('done')\n"
                                          "sys.stdout.flush()\nprint()")]
    nbformat.write(nb, tmp_path / "split.ipynb")
    result = run_notebook(NotebookJob(
        area="x", level="township", notebook=str(tmp_path / "split.ipynb"),
        ipynb_path=str(tmp_path / "o.ipynb"), html_path=str(tmp_path / "o.html"),
        parameters={}, timeout=60, title="x"))
    assert result.status == "ok"
    outputs = nbformat.read(tmp_path / "o.ipynb", as_version=4).cells[-1].outputs
    assert [(o["name"], o["text"]) for o in outputs] == [("stdout", "done\n")]


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


def test_summary_workbook_is_the_same_bytes_on_every_run(monkeypatch):
    import datetime as dt

    from pingan_eval.batch import outputs as batch

    table = pd.DataFrame({"area": ["青河镇"], "estimate": [0.97]})
    first = batch._xlsx_bytes(table)

    class Later(dt.datetime):  # openpyxl stamps the workbook with datetime.now()
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    monkeypatch.setattr("openpyxl.writer.excel.datetime.datetime", Later)
    assert batch._xlsx_bytes(table) == first
    pd.testing.assert_frame_equal(pd.read_excel(io.BytesIO(first), engine="openpyxl"), table)


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
    with worker_pool(2) as pool:
        results = _execute(_jobs(tmp_path), pool=pool, client=None, progress=False,
                           period="2026-11")
    assert [r.area for r in results] == ["塔克什肯镇", "阿热勒乡"]
    assert [r.status for r in results] == ["ok", "failed"]
    assert (tmp_path / "a.html").is_file() and (tmp_path / "b.html").is_file()




# ---------------------------------------------------------------- the whole batch

PERIOD = "2026-11"
PICKED = ["青河镇", "阿热勒乡", "不存在乡"]  # ok, a crashing cell, an unknown name


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    from pingan_eval.data.prepare import prepare_period

    out = tmp_path_factory.mktemp("processed")
    prepare_period(PERIOD, paths.SAMPLE_RAW_DIR, out)
    return out


def _batch(out: Path, processed: Path, **kw):
    kw = {"townships": PICKED, "jobs": 2, **kw}
    return run_batch(PERIOD, out_dir=out, processed_dir=processed, timeout=120,
                     progress=False, township_notebook=REPORT_NB, county_notebook=REPORT_NB,
                     department_notebook=REPORT_NB, **kw)


@pytest.fixture(scope="module")
def batch(tmp_path_factory, processed):
    out = tmp_path_factory.mktemp("reports")
    return out, _batch(out, processed)


def test_batch_writes_every_file(batch):
    out, result = batch
    folder = out / PERIOD
    assert result.folder == folder and result.index_path == folder / "index.html"
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert names == {
        "county.ipynb", "county.html", "青河镇.ipynb", "青河镇.html",
        "departments.ipynb", "departments.html",  # the tasks by department
        "阿热勒乡.ipynb", "阿热勒乡.html",  # the failed notebook is kept, as papermill does
        "index.html", "summary.csv", "summary.xlsx", "manifest.json",
        *(f"{cache}/{name}" for cache in ("_data", "_data/areas/青河镇", "_data/areas/阿热勒乡")
          for name in ("summary.csv", "trends.csv", "breakdowns.csv", "facts.csv", "peers.csv",
                       "inputs.json", *(f"registers/{table}" for table in (
                           "naming_rates.csv", "defects.csv", "standards.csv",
                           "structural.csv", "skipped_checks.csv", "tasks.csv",
                           "task_status.csv", "has_register.txt")))),
    }


def test_a_township_reads_only_its_own_rows(batch):
    """Its cache holds its rows and the county's: the same size whatever the county's."""
    out, _ = batch
    areas = out / PERIOD / "_data" / "areas" / "青河镇"
    summary = read_summary(areas / "summary.csv")
    full = read_summary(out / PERIOD / "_data" / "summary.csv")
    # the sample has 7 townships (at most FOREST_FULL_ROWS): the forest plot lists them
    # all, so its summary is whole; the rest is the township's own
    assert len(summary) == len(full)
    trends = read_summary(areas / "trends.csv")
    assert set(trends["area"]) == {"青河县", "青河镇"}
    breakdowns = pd.read_csv(areas / "breakdowns.csv")
    assert set(breakdowns["area"]) == {"青河镇"}
    standards = pd.read_csv(areas / "registers" / "standards.csv")
    assert set(standards["township"]) == {"青河镇"}


def test_batch_reports_failures_and_goes_on(batch):
    _, result = batch
    status = {r.area: r.status for r in result.notebooks}
    assert status == {"青河县": "ok", "县直部门": "ok", "青河镇": "ok", "阿热勒乡": "failed",
                      "不存在乡": "failed"}
    assert not result.ok and [r.area for r in result.failed] == ["阿热勒乡", "不存在乡"]
    unknown = result.failed[1].error
    assert unknown["ename"] == "UnknownTownship" and "不存在乡" in unknown["evalue"]


def test_batch_passes_the_cached_summary_to_notebooks(batch):
    out, _ = batch
    nb = nbformat.read(out / PERIOD / "青河镇.ipynb", as_version=4)
    got = _received(nb)
    assert got["township"] == "青河镇" and got["period"] == PERIOD
    own = out / PERIOD / "_data" / "areas" / "青河镇"
    assert Path(got["summary_path"]) == own / "summary.csv"
    params = nb.metadata.papermill.parameters
    assert set(params) == {"township", "period", "raw_dir", "processed_dir", "plan_path",
                           "summary_path", "trend_path", "breakdowns_path", "registers_dir",
                           "cache_dir"}
    assert Path(params["breakdowns_path"]) == own / "breakdowns.csv"
    assert Path(params["cache_dir"]) == own
    county = nbformat.read(out / PERIOD / "county.ipynb", as_version=4)
    assert "township" not in county.metadata.papermill.parameters


def test_batch_manifest(batch, processed):
    out, result = batch
    manifest = json.loads((out / PERIOD / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["failed"] == ["阿热勒乡", "不存在乡"]
    assert manifest["parameters"]["townships"] == PICKED
    assert manifest["parameters"]["period"] == PERIOD and manifest["parameters"]["jobs"] == 2
    rows = {n["area"]: n for n in manifest["notebooks"]}
    crash = rows["阿热勒乡"]
    assert crash["status"] == "failed" and crash["html"] == "阿热勒乡.html"
    assert (crash["error"]["cell_index"], crash["error"]["ename"], crash["error"]["evalue"]) == (
        5, "ValueError", "bad data for 阿热勒乡")
    assert rows["不存在乡"]["html"] is None
    assert rows["青河镇"]["duration"] > 0 and rows["青河镇"]["start"].startswith("20")
    inputs = manifest["inputs"]
    assert inputs["processed"][PERIOD]["files"]["validation.json"] == sha256_file(
        processed / PERIOD / "validation.json")
    assert inputs["processed"][PERIOD]["raw_inputs"]  # the raw hashes prepare recorded
    assert inputs["plan"]["sha256"] == sha256_file(inputs["plan"]["path"])
    assert inputs["notebooks"] == {str(REPORT_NB): sha256_file(REPORT_NB)}
    assert manifest["packages"]["papermill"] == papermill.__version__
    assert manifest["packages"]["pandas"] == pd.__version__


def test_batch_summary_files(batch, processed):
    out, result = batch
    folder = out / PERIOD
    users = pd.read_csv(folder / "summary.csv", encoding="utf-8-sig", dtype={"period": str})
    assert tuple(users.columns) == USER_COLUMNS
    depts = load_plan().departments  # the tasks by department follow the areas run
    assert list(dict.fromkeys(users["area"])) == ["青河县", "青河镇", "阿热勒乡", *depts]
    assert set(users.loc[users["area"].isin(depts), "area_level"]) == {"department"}
    assert set(users["verdict_zh"]) <= {"达标", "未达标", "尚无定论", "未到期", "无数据"}
    # the users' rows are the cached period summary, restricted to the areas run
    cached = read_summary(folder / "_data" / "summary.csv")
    cached = cached[cached["area"].isin(users["area"])].reset_index(drop=True)
    pd.testing.assert_series_equal(users["estimate"], cached["estimate"])
    assert (users["indicator"] == cached["indicator"]).all()
    xlsx = pd.read_excel(folder / "summary.xlsx", dtype={"period": str}, engine="openpyxl")
    pd.testing.assert_frame_equal(xlsx, users, check_dtype=False)


def test_batch_index_page(batch):
    out, _ = batch
    page = (out / PERIOD / "index.html").read_text(encoding="utf-8")
    assert external_links(page) == [] and "<script" not in page
    for href in ("county.html", quote("青河镇.html"), quote("阿热勒乡.html")):
        assert f'href="{href}"' in page
    assert "bad data for 阿热勒乡" in page and "UnknownTownship" in page
    assert "达标" in page and "尚无定论" in page


def test_batch_rerun_is_idempotent(batch, processed):
    out, _ = batch
    folder = out / PERIOD
    keep = ["county.ipynb", "county.html", "青河镇.ipynb", "青河镇.html", "阿热勒乡.ipynb",
            "阿热勒乡.html", "index.html", "summary.csv", "_data/summary.csv",
            "_data/breakdowns.csv", "_data/trends.csv"]
    before = {name: (folder / name).read_bytes() for name in keep}
    stale = folder / ".index.html.x1.tmp"
    stale.write_text("left by a killed run", encoding="utf-8")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    _batch(out, processed, jobs=1)  # in this process, not in a pool: the same bytes
    assert {name: (folder / name).read_bytes() for name in keep} == before
    assert not list(folder.rglob(".*.tmp"))


def test_batch_without_prepared_data_fails_early(tmp_path):
    with pytest.raises(ReportError, match=r"pingan-eval prepare --period 2026-11"):
        run_batch(PERIOD, out_dir=tmp_path, processed_dir=tmp_path / "none", progress=False)
    assert not (tmp_path / PERIOD).exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"period": "2026-13"}, "periods are written YYYY-MM"),
    ({"period": "11/2026"}, "periods are written YYYY-MM"),
    ({"jobs": 0}, "jobs must be at least 1"),
    ({"timeout": 0}, "timeout must be a positive"),
])
def test_batch_rejects_bad_arguments(processed, tmp_path, kwargs, message):
    args = {"period": PERIOD, **kwargs}
    with pytest.raises(ReportError, match=message):
        run_batch(args.pop("period"), out_dir=tmp_path, processed_dir=processed,
                  progress=False, **args)
    assert not list(tmp_path.iterdir())


def test_cli_batch_with_the_report_notebooks(processed, tmp_path, capsys):
    code = main(["batch", "--period", PERIOD, "--townships", "塔克什肯镇,不存在乡",
                 "--jobs", "2", "--out", str(tmp_path), "--processed", str(processed)])
    captured = capsys.readouterr()
    assert code == 1
    assert str(tmp_path / PERIOD / "index.html") in captured.out
    assert "不存在乡" in captured.err and "UnknownTownship" in captured.err
    manifest = json.loads((tmp_path / PERIOD / "manifest.json").read_text(encoding="utf-8"))
    status = {n["area"]: n["status"] for n in manifest["notebooks"]}
    assert status == {"青河县": "ok", "县直部门": "ok", "塔克什肯镇": "ok", "不存在乡": "failed"}
    page = (tmp_path / PERIOD / "departments.html").read_text(encoding="utf-8")
    assert "县直部门任务落实情况" in page and external_links(page) == []
    assert 'href="departments.html"' in (tmp_path / PERIOD / "county.html").read_text(
        encoding="utf-8")
    assert 'href="departments.html"' in (tmp_path / PERIOD / "index.html").read_text(
        encoding="utf-8")
    page = (tmp_path / PERIOD / "塔克什肯镇.html").read_text(encoding="utf-8")
    assert "塔克什肯镇" in page and external_links(page) == []
    assert re.search(r'src="data:image/png;base64,', page)
    # no warning meant for developers (a missing font weight, a deprecation) in a report
    for stem in ("塔克什肯镇", "county", "departments"):
        nb = nbformat.read(tmp_path / PERIOD / f"{stem}.ipynb", as_version=4)
        stderr = [(i, o.get("text", "")) for i, c in enumerate(nb.cells)
                  for o in c.get("outputs", []) if o.get("name") == "stderr"]
        assert stderr == [], stderr


def test_batch_on_a_dask_local_cluster(processed, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = _batch(tmp_path, processed, townships=["塔克什肯镇", "阿热勒乡"],
                        scheduler=cluster.scheduler_address)
    status = {r.area: r.status for r in result.notebooks}
    assert status == {"青河县": "ok", "县直部门": "ok", "塔克什肯镇": "ok", "阿热勒乡": "failed"}
    assert result.failed[0].error["ename"] == "ValueError"
    nb = nbformat.read(tmp_path / PERIOD / "塔克什肯镇.ipynb", as_version=4)
    assert _received(nb)["township"] == "塔克什肯镇"
    manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    assert manifest["parameters"]["scheduler"] == cluster.scheduler_address
    assert manifest["packages"]["distributed"] == distributed.__version__


def _fixture_kernels() -> list[int]:
    """Pids of running kernels whose working folder is tests/fixtures (this file's).

    A kernel is started as ``python -m ipykernel_launcher``, or forked by a kernel zygote
    (pingan_eval.batch.kernels: same command line as the zygote, whose child it is).
    """
    zygote = b"pingan_eval.batch.kernels import serve"

    def cmdline(pid: str) -> bytes:
        return (Path("/proc") / pid / "cmdline").read_bytes()

    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if not (proc.name.isdigit()
                    and Path(proc / "cwd").resolve() == FIXTURES.resolve()):
                continue
            cmd = cmdline(proc.name)
            parent = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
            if b"ipykernel_launcher" in cmd or (zygote in cmd and zygote in cmdline(parent)):
                pids.append(int(proc.name))
        except (OSError, IndexError):  # gone, or not ours to look at
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs Linux /proc")
def test_ctrl_c_stops_the_batch_and_its_kernels(processed, tmp_path):
    script = (
        "from pingan_eval.batch.run import run_batch\n"
        f"run_batch({PERIOD!r}, townships=['青河镇', '塔克什肯镇', '阿热勒乡'], jobs=2,\n"
        f"          out_dir={str(tmp_path)!r}, processed_dir={str(processed)!r},\n"
        f"          progress=False, township_notebook={str(SLEEP_NB)!r},\n"
        f"          county_notebook={str(SLEEP_NB)!r},\n"
        f"          department_notebook={str(SLEEP_NB)!r}, timeout=300)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while len(_fixture_kernels()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)  # wait until both workers' kernels are sleeping in a cell
        assert len(_fixture_kernels()) >= 2, "the batch started no kernels"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=30)  # not the 120 s the cells sleep
    finally:
        if proc.poll() is None:  # a hung batch must not outlive the test
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    deadline = time.monotonic() + 15
    while _fixture_kernels() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _fixture_kernels() == []
    assert not list(tmp_path.rglob("*.ipynb")) and not list(tmp_path.rglob(".*.tmp"))


def test_index_page_escapes_names_and_errors():
    from pingan_eval.report.index_page import ReportEntry, render_index

    evil = '<script>alert("x")</script> 乡'
    table = pd.DataFrame({
        "area": [evil], "indicator": ["awareness"], "name_zh": ["知晓率<b>"],
        "source": ["survey"], "estimate": [0.5], "ci_low": [0.4], "ci_high": [0.6],
        "target": [0.95], "verdict": ["not_met"], "flag": ["ok"]})
    error = {"cell_index": 3, "ename": "ValueError", "evalue": "<img src=x onerror=1>"}
    page = render_index(title="县", period="2026-11", table=table,
                        reports=[ReportEntry(evil, "township", "failed", f"{evil}.html", error)])
    assert "<script>" not in page and "<img src=x" not in page and "知晓率<b>" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=1&gt;" in page
    assert f'href="{quote(evil + ".html", safe="")}"' in page  # one file, no folders
    assert "50.0%" in page and "[40.0, 60.0]" in page and "未达标" in page


# ---------------------------------------------------------------- output folder checks


@pytest.mark.parametrize("under", ["", "reports", "reports/deeper"])
def test_batch_refuses_to_write_under_the_raw_data_folder(processed, tmp_path, capsys, under):
    """As ``prepare`` does: ``--out`` the raw folder or inside it is refused in one line,
    before anything is written."""
    raw = tmp_path / "raw"
    shutil.copytree(paths.SAMPLE_RAW_DIR, raw)
    before = sorted(p.relative_to(raw) for p in raw.rglob("*"))
    out = raw / under if under else raw
    code = main(["batch", "--period", PERIOD, "--townships", "青河镇", "--raw", str(raw),
                 "--out", str(out), "--processed", str(processed)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "refusing to write reports under the raw data folder" in err and str(raw) in err
    assert sorted(p.relative_to(raw) for p in raw.rglob("*")) == before


def test_batch_refuses_to_write_into_the_prepared_data(processed, capsys):
    before = sorted(p.relative_to(processed) for p in processed.rglob("*"))
    code = main(["batch", "--period", PERIOD, "--townships", "青河镇", "--out", str(processed),
                 "--processed", str(processed)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "refusing to write reports under the prepared data folder" in err
    assert sorted(p.relative_to(processed) for p in processed.rglob("*")) == before


def test_batch_fails_early_on_an_unwritable_output_folder(processed, tmp_path, capsys):
    """A folder the batch cannot write to stops it before the estimation, in one line
    naming the folder (not a traceback after every report ran)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be", encoding="utf-8")
    t0 = time.perf_counter()
    code = main(["batch", "--period", PERIOD, "--townships", "青河镇", "--out", str(blocker),
                 "--processed", str(processed)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(blocker / PERIOD) in err and "not writable" in err
    assert time.perf_counter() - t0 < 10  # nothing was estimated or run


@pytest.fixture()
def fixture_notebooks(tmp_path, monkeypatch):
    """The CLI's default notebooks replaced by the quick fixture notebook."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("township_report.ipynb", "county_overview.ipynb", "department_overview.ipynb"):
        shutil.copy(REPORT_NB, folder / name)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", folder)
    return folder


def test_batch_names_a_file_it_cannot_replace_and_writes_the_rest(
        processed, tmp_path, capsys, fixture_notebooks):
    """summary.xlsx that cannot be replaced (here a folder in its place; on Windows a
    workbook open in Excel): one line names it, the index and manifest are still
    written (not the old ones kept), and the command exits 1."""
    out = tmp_path / "out"
    folder = out / PERIOD
    (folder / "summary.xlsx").mkdir(parents=True)
    (folder / "summary.xlsx" / "held").write_text("x", encoding="utf-8")
    for name in ("index.html", "manifest.json"):
        (folder / name).write_text("old", encoding="utf-8")
    code = main(["batch", "--period", PERIOD, "--townships", "青河镇", "--jobs", "1",
                 "--out", str(out), "--processed", str(processed)])
    err = [line for line in capsys.readouterr().err.splitlines()
           if line.startswith("pingan-eval")]  # not the progress bar
    assert code == 1
    assert len(err) == 1 and str(folder / "summary.xlsx") in err[0], err
    assert (folder / "index.html").read_text(encoding="utf-8") != "old"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["failed"] == []
    assert [line.split(": not replaced")[0] for line in manifest["unwritten"]] == [
        str(folder / "summary.xlsx")]
    assert (folder / "summary.csv").is_file() and (folder / "青河镇.html").is_file()
    assert not list(folder.glob(".*.tmp"))


def test_report_filenames_bound_long_names_stably():
    """A name of any length gets a short file stem (a prefix and a hash of the name):
    the same on every run, distinct for names that share the prefix."""
    from pingan_eval.batch.jobs import MAX_STEM_BYTES

    long_a, long_b = "布尔根河谷边境口岸镇" * 30 + "甲", "布尔根河谷边境口岸镇" * 30 + "乙"
    stems = report_filenames([long_a, long_b, "青河镇", "<img src=x onerror=1>" * 20])
    assert stems == report_filenames([long_a, long_b, "青河镇", "<img src=x onerror=1>" * 20])
    assert stems["青河镇"] == "青河镇"
    assert len(set(stems.values())) == 4
    for stem in stems.values():
        assert len(stem.encode("utf-8")) <= MAX_STEM_BYTES
        assert not re.search(r'[<>:"/\\|?*]', stem)
    assert stems[long_a].startswith("布尔根河谷边境口岸镇") and re.search(r"-[0-9a-f]{8}$",
                                                                  stems[long_a])


def test_index_is_written_when_a_report_file_name_is_refused(tmp_path):
    """A report whose file the system refused (a name too long) is listed without a link;
    the index is still written."""
    from pingan_eval.batch.notebook_run import NotebookResult
    from pingan_eval.batch.outputs import write_index
    from pingan_eval.plan import load_plan

    huge = "乡" * 200  # 600 bytes: longer than any file system allows
    job = _job(tmp_path, huge, stem=huge)
    result = NotebookResult(area=huge, level="township", status="failed", start="2026",
                            duration=0.0, error={"ename": "OSError", "evalue": "too long"})
    summary = pd.DataFrame({c: pd.Series(dtype=object) for c in USER_COLUMNS}).assign(
        official=pd.Series(dtype=bool))
    page = write_index(tmp_path, county="青河县", period=PERIOD, jobs=[job], results=[result],
                       summary=summary, plan=load_plan()).read_text(encoding="utf-8")
    assert huge in page and "too long" in page


def test_a_workbook_held_open_stops_the_batch_before_it_starts(tmp_path, monkeypatch):
    """On Windows a summary.xlsx open in Excel cannot be replaced: the batch says so in
    one line before computing anything (the lock itself is simulated here)."""
    from pingan_eval.batch import outputs

    folder = tmp_path / PERIOD
    folder.mkdir()
    (folder / "summary.xlsx").write_bytes(b"old")
    monkeypatch.setattr(outputs, "_is_locked", lambda path: path.name == "summary.xlsx")
    with pytest.raises(ReportError) as info:
        outputs.check_writable(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder / "summary.xlsx") in message
    assert "open in another program" in message
    assert (folder / "summary.xlsx").read_bytes() == b"old"
    assert [p.name for p in folder.iterdir()] == ["summary.xlsx"]  # the probe is gone
