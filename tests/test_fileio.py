import os
import stat
from pathlib import Path

import pytest

from pingan_eval.fileio import atomic_directory, atomic_write_text, sha256_file


def test_atomic_write_text_replaces_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "sub" / "report.html"
    atomic_write_text(target, "一")
    atomic_write_text(target, "二")
    assert target.read_text(encoding="utf-8") == "二"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_atomic_directory_keeps_previous_output_on_failure(tmp_path: Path):
    out = tmp_path / "2026-11"
    with atomic_directory(out) as tmp:
        (tmp / "respondents.csv").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(out) as tmp:
        (tmp / "respondents.csv").write_text("half")
        raise RuntimeError("crash mid-run")
    assert (out / "respondents.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-11"]


def test_sha256_file(tmp_path: Path):
    f = tmp_path / "x"
    f.write_bytes(b"abc")
    assert sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_outputs_get_ordinary_permissions_not_private_temp_ones(tmp_path: Path):
    old = os.umask(0o022)
    try:
        f = atomic_write_text(tmp_path / "r.html", "x")
        with atomic_directory(tmp_path / "d") as tmp:
            (tmp / "a").write_text("y")
    finally:
        os.umask(old)
    assert stat.S_IMODE(f.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
