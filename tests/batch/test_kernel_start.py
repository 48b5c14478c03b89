"""A report's kernel must start even when another process takes the port it was given.

jupyter_client picks free TCP ports in the batch worker and the kernel binds them a
moment later; with two workers, the other one's kernel connection can take a port in
between, and the kernel dies before it runs anything ("Kernel died before replying to
kernel_info"; papermill issue 511; seen once in CI with ``--jobs 2``). The tests take the
shell port exactly in that gap, from this process.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest
from jupyter_client.connect import ConnectionFileMixin

from pingan_eval.batch import watchdog
from pingan_eval.batch.notebook_run import START_ATTEMPTS, NotebookJob, run_notebook

REPORT_NB = Path(__file__).resolve().parents[1] / "fixtures" / "report_fixture.nb.json"


class PortThief:
    """Binds the shell port of the next ``times`` kernels right after it is chosen."""

    def __init__(self) -> None:
        self.times = 1
        self.taken: list[socket.socket] = []

    def wrap(self, write):
        def write_then_take(manager, **kwargs):
            write(manager, **kwargs)
            if manager.transport == "tcp" and len(self.taken) < self.times:
                sock = socket.socket()
                sock.bind((manager.ip, manager.shell_port))
                sock.listen()
                self.taken.append(sock)
        return write_then_take


@pytest.fixture()
def port_thief(monkeypatch):
    thief = PortThief()
    monkeypatch.setattr(ConnectionFileMixin, "write_connection_file",
                        thief.wrap(ConnectionFileMixin.write_connection_file))
    yield thief
    for sock in thief.taken:
        sock.close()


def _run(tmp: Path):
    return run_notebook(NotebookJob(
        area="青河镇", level="township", notebook=str(REPORT_NB),
        ipynb_path=str(tmp / "t.ipynb"), html_path=str(tmp / "t.html"),
        parameters={"township": "青河镇", "period": "2026-11"}, timeout=60, title="t"))


@pytest.mark.skipif(watchdog.TRANSPORT != "ipc", reason="no Unix sockets (Windows)")
def test_kernels_talk_over_unix_sockets_so_no_port_can_be_taken(tmp_path, port_thief):
    port_thief.times = START_ATTEMPTS + 1
    result = _run(tmp_path)
    assert result.status == "ok" and result.attempts == 1
    assert port_thief.taken == []  # no TCP port was handed out


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, port_thief, monkeypatch):
    """Over TCP (Windows), a kernel that loses its port is started once more."""
    monkeypatch.setattr(watchdog, "TRANSPORT", "tcp")
    result = _run(tmp_path)
    assert len(port_thief.taken) == 1
    assert result.status == "ok", result.error
    assert result.attempts == 2


def test_a_kernel_that_never_starts_is_a_failed_report_that_says_why(
        tmp_path, port_thief, monkeypatch):
    monkeypatch.setattr(watchdog, "TRANSPORT", "tcp")
    port_thief.times = START_ATTEMPTS
    result = _run(tmp_path)
    assert len(port_thief.taken) == START_ATTEMPTS
    assert result.status == "failed" and result.attempts == START_ATTEMPTS
    assert result.error["ename"] == "RuntimeError"
    assert result.error["evalue"].startswith("Kernel died before replying to kernel_info")
    assert "Address already in use" in result.error["evalue"]  # the kernel's last words
    assert result.error["cell_index"] is None
    assert "运行中断" in (tmp_path / "t.html").read_text(encoding="utf-8")


@pytest.mark.skipif(watchdog.TRANSPORT != "ipc", reason="no Unix sockets (Windows)")
def test_a_temporary_folder_too_deep_for_unix_sockets_falls_back_to_tcp(tmp_path, monkeypatch):
    deep = tmp_path / ("深" * 12) / ("d" * 60)  # a socket path there exceeds 104 bytes
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    result = _run(tmp_path)
    assert result.status == "ok" and result.attempts == 1, result.error
