"""Nothing of a batch outlives it: a real ``pingan-eval batch`` in a subprocess, stopped
by SIGKILL, SIGTERM or Ctrl-C while its kernels sleep in a cell.

Every process of the batch carries a marker in its environment (forked kernels share the
zygote's), so the processes are found in ``/proc`` even after they were re-parented to
init. ``TMPDIR`` and ``JUPYTER_RUNTIME_DIR`` point into the test's folder, where the runs'
scratch folders (``pingan-nb-*``) and the kernels' connection files go.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from pingan_eval import paths
from pingan_eval.batch import kernels

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SLEEP_NB = FIXTURES / "report_sleeps.nb.json"
PERIOD = "2026-11"
ZYGOTE = b"pingan_eval.batch.kernels import serve"

pytestmark = pytest.mark.skipif(
    not (Path("/proc/self/environ").exists() and kernels.fork_available()),
    reason="needs Linux /proc and forked kernels")


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    from pingan_eval.data.prepare import prepare_period

    out = tmp_path_factory.mktemp("processed")
    prepare_period(PERIOD, paths.SAMPLE_RAW_DIR, out)
    return out


def _read(pid: int, name: str) -> bytes:
    return (Path("/proc") / str(pid) / name).read_bytes()


def _marked(mark: str) -> dict[int, bytes]:
    """Live processes (not zombies) whose environment carries ``mark``: their command lines."""
    needle = f"PINGAN_TEST_MARK={mark}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        pid = int(proc.name)
        try:
            if needle in _read(pid, "environ").split(b"\0"):
                if _read(pid, "stat").rsplit(b")", 1)[1].split()[0] != b"Z":
                    found[pid] = _read(pid, "cmdline")
        except (OSError, IndexError):  # gone, or not ours to look at
            continue
    return found


def _kernels(procs: dict[int, bytes]) -> list[int]:
    """The kernels among ``procs``: forked by a zygote, or started as ipykernel_launcher."""
    def parent(pid: int) -> int:
        return int(_read(pid, "stat").rsplit(b")", 1)[1].split()[1])

    out = []
    for pid, cmd in procs.items():
        try:
            if b"ipykernel_launcher" in cmd or (
                    ZYGOTE in cmd and ZYGOTE in procs.get(parent(pid), b"")):
                out.append(pid)
        except (OSError, IndexError):
            continue
    return out


def _leftovers(tmp: Path) -> list[str]:
    """Scratch folders and kernel connection files left in TMPDIR or the runtime folder."""
    return sorted(p.name for p in tmp.rglob("*")
                  if p.name.startswith("pingan-nb-") or p.suffix == ".json")


def _start(tmp_path: Path, processed: Path) -> tuple[subprocess.Popen, str, Path]:
    """``pingan-eval batch`` on one township (the county overview too: two kernels), with
    the sleeping notebook as both reports; returns once both kernels are in their cell."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("township_report.ipynb", "county_overview.ipynb", "department_overview.ipynb"):
        shutil.copy(SLEEP_NB, notebooks / name)
    scratch = tmp_path / "scratch"
    (scratch / "tmp").mkdir(parents=True)
    (scratch / "runtime").mkdir()
    mark = uuid.uuid4().hex
    argv = ["batch", "--period", PERIOD, "--townships", "青河镇", "--jobs", "2",
            "--out", str(tmp_path / "out"), "--processed", str(processed),
            "--timeout", "300"]
    # SIGINT as a terminal leaves it (a shell's background job inherits it ignored)
    script = ("import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "import sys\nfrom pathlib import Path\nfrom pingan_eval import paths\n"
              f"paths.NOTEBOOKS_DIR = Path({str(notebooks)!r})\n"
              "from pingan_eval.cli import main\n"
              f"sys.exit(main({argv!r}))\n")
    env = {**os.environ, "PINGAN_TEST_MARK": mark, "TMPDIR": str(scratch / "tmp"),
           "JUPYTER_RUNTIME_DIR": str(scratch / "runtime")}
    env.pop("PINGAN_EVAL_FORK_KERNELS", None)
    # files, not pipes: a process that outlives the batch would hold a pipe open
    with open(tmp_path / "stdout", "wb") as out, open(tmp_path / "stderr", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", script], env=env,
                                start_new_session=True, stdout=out, stderr=err)
    deadline = time.monotonic() + 120
    while len(_kernels(_marked(mark))) < 2 and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    if len(_kernels(_marked(mark))) < 2:
        _kill_marked(mark)
        proc.wait(timeout=30)
        pytest.fail(f"the batch started no kernels: {_stderr(tmp_path)[-2000:]}")
    return proc, mark, scratch


def _stderr(tmp_path: Path) -> str:
    return (tmp_path / "stderr").read_text(encoding="utf-8", errors="replace")


def _kill_marked(mark: str) -> None:
    """Kill what the test started, should it have outlived the batch."""
    for pid in _marked(mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _survivors(mark: str, within: float) -> dict[int, bytes]:
    deadline = time.monotonic() + within
    while (alive := _marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def test_nothing_survives_a_killed_batch(processed, tmp_path):
    """kill -9 of the command: its workers, zygotes and kernels die with it (they were
    re-parented to init and ran on, writing reports beside the old index)."""
    proc, mark, _ = _start(tmp_path, processed)
    try:
        assert len(_marked(mark)) >= 6  # batch, 2 workers, 2 zygotes, 2 kernels (+tracker)
        t0 = time.monotonic()
        proc.kill()
        proc.wait(timeout=30)
        alive = _survivors(mark, within=5)
        elapsed = time.monotonic() - t0
    finally:
        _kill_marked(mark)
    assert alive == {}, f"{len(alive)} processes outlived the batch: {list(alive.values())}"
    assert elapsed < 5
    assert not list((tmp_path / "out").rglob("*.ipynb"))


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_stopped_batch_cleans_up_and_says_so_in_one_line(processed, tmp_path, signum, code):
    """SIGTERM (to the command) or Ctrl-C (SIGINT to its process group, as a terminal
    sends it): every process ends, the scratch folders and the kernels' connection files
    (their keys) are deleted, one line says why, no traceback, exit 128 + signal."""
    proc, mark, scratch = _start(tmp_path, processed)
    try:
        assert _leftovers(scratch)  # the running reports' scratch and connection files
        t0 = time.monotonic()
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        proc.wait(timeout=30)
        elapsed = time.monotonic() - t0
        alive = _survivors(mark, within=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        _kill_marked(mark)
    text = _stderr(tmp_path)
    assert proc.returncode == code, text[-2000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-2000:]
    lines = [line for line in text.splitlines() if line.startswith("pingan-eval")]
    assert len(lines) == 1 and signal.Signals(signum).name in lines[0], text[-2000:]
    assert alive == {}, f"{len(alive)} processes outlived the batch: {list(alive.values())}"
    assert _leftovers(scratch) == []
    assert elapsed < 10
    assert not list((tmp_path / "out").rglob("*.ipynb"))
    assert not list((tmp_path / "out").rglob(".*.tmp"))
