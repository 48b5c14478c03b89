"""The batch on a real Dask cluster: a scheduler and workers started as their own processes.

Outputs are the same bytes as a local run's; a worker killed while it runs a report loses
nothing (the scheduler runs it again elsewhere, and the manifest names the worker and the
attempts); an unreachable scheduler is reported at once, before anything is estimated,
and leaves no output folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pingan_eval.batch.run import run_batch
from pingan_eval.errors import ReportError

distributed = pytest.importorskip("distributed")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPORT_NB = FIXTURES / "report_fixture.nb.json"
SLEEP_NB = FIXTURES / "report_sleeps.nb.json"
PERIOD = "2026-11"


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    from pingan_eval import paths
    from pingan_eval.data.prepare import prepare_period

    out = tmp_path_factory.mktemp("processed")
    prepare_period(PERIOD, paths.SAMPLE_RAW_DIR, out)
    return out


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes (one thread each, with nannies)."""
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    procs = [_start(["distributed.cli.dask_scheduler", "--scheduler-file", str(info),
                     "--port", "0", "--no-dashboard", "--host", "127.0.0.1"], folder)]
    for _ in range(200):
        if info.is_file() and info.stat().st_size:
            break
        time.sleep(0.1)
    address = json.loads(info.read_text())["address"]
    procs += [_start(["distributed.cli.dask_worker", address, "--nworkers", "1",
                      "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"], folder)
              for i in range(2)]
    with distributed.Client(address, set_as_default=False, timeout="20s") as client:
        client.wait_for_workers(2, timeout=60)
    yield address
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _files(folder: Path) -> dict[str, bytes]:
    """Every output file but the manifest (run times, addresses) by relative path.

    The per-township caches name their own folder in their paths, which differ only by
    the output folder; the notebooks carry those paths as parameters.
    """
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            out[str(path.relative_to(folder))] = path.read_bytes().replace(
                str(folder).encode(), b"<out>")
    return out


def test_a_dask_cluster_gives_the_bytes_of_a_local_run(processed, cluster, tmp_path):
    kw = {"townships": ["塔克什肯镇"], "processed_dir": processed, "timeout": 300,
          "progress": False}
    local = run_batch(PERIOD, out_dir=tmp_path / "local", jobs=2, **kw)
    dask = run_batch(PERIOD, out_dir=tmp_path / "dask", scheduler=cluster, **kw)
    assert local.ok and dask.ok
    assert _files(tmp_path / "dask" / PERIOD) == _files(tmp_path / "local" / PERIOD)
    manifest = json.loads(dask.manifest_path.read_text(encoding="utf-8"))
    assert manifest["parameters"]["scheduler"] == cluster
    assert manifest["parameters"]["jobs"] is None
    workers = {row["worker"] for row in manifest["notebooks"]}
    assert all(w and w.startswith("tcp://") for w in workers)
    assert {row["attempts"] for row in manifest["notebooks"]} == {1}


def test_a_worker_killed_mid_report_loses_nothing(processed, cluster, tmp_path):
    """The township's notebook sleeps; its worker is killed -9 while it runs it."""
    out = tmp_path / "out"
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = run_batch(
                PERIOD, townships=["塔克什肯镇"], out_dir=out, processed_dir=processed,
                timeout=30, progress=False, scheduler=cluster, township_notebook=SLEEP_NB,
                county_notebook=REPORT_NB, department_notebook=REPORT_NB)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    done = [out / PERIOD / "county.html", out / PERIOD / "departments.html"]
    with distributed.Client(cluster, set_as_default=False, timeout="20s") as client:
        pids = client.run(os.getpid)
        victim = None
        for _ in range(900):  # the quick reports finish; the sleeping one is left running
            busy = [w for w, keys in client.processing().items() if keys]
            if all(p.is_file() for p in done) and len(busy) == 1:
                victim = busy[0]
                break
            time.sleep(0.2)
        assert victim is not None, "the sleeping report never ran alone"
        time.sleep(2)  # inside its sleeping cell
        os.kill(pids[victim], signal.SIGKILL)
    # the scheduler runs it again on the other worker, where it times out (30 s): a result
    thread.join(timeout=300)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    manifest = json.loads((out / PERIOD / "manifest.json").read_text(encoding="utf-8"))
    rows = {row["area"]: row for row in manifest["notebooks"]}
    town = rows["塔克什肯镇"]
    assert town["attempts"] == 2 and town["worker"] not in (None, victim)
    assert town["status"] == "timeout"
    assert all(row["attempts"] == 1 for area, row in rows.items() if area != "塔克什肯镇")


def test_an_unreachable_scheduler_is_reported_at_once(processed, tmp_path):
    out = tmp_path / "out"
    start = time.perf_counter()
    with pytest.raises(ReportError, match="cannot reach the Dask scheduler"):
        run_batch(PERIOD, out_dir=out, processed_dir=processed, progress=False,
                  scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 15
    assert not out.exists()
