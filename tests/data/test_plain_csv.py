"""The fast reader of quote-free CSV files gives what the careful reader gives.

``read_table`` reads a CSV without any quote with pandas' C parser
(:func:`pingan_eval.data.raw_records.plain_csv`, for registers of millions of rows);
these tests read random files both ways and compare the tables, their attributes and
their errors.
"""

from __future__ import annotations

import codecs

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pingan_eval.data import raw_records, readers
from pingan_eval.errors import DataError

CELL = st.one_of(st.text(alphabet=" 　\t青河镇村abc019-/年月日", max_size=6),
                 st.sampled_from(["2026/3/5", "2026-03-05", "2026年3月5日", "05/11/2026"]))
NAMES = ["township", "village", " unit_id", "named_on ", "n", "applied_on"]
HEADER = st.lists(st.sampled_from(["township", "village", " unit_id", "named_on ", "", "n"]),
                  min_size=1, max_size=5)


@st.composite
def csv_files(draw) -> tuple[bytes, str]:
    # mostly files the plain reader takes (distinct names, no row wider than the header)
    clean = draw(st.integers(0, 3)) > 0
    header = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True)
                  if clean else HEADER)
    extra = 0 if clean else 2
    rows = draw(st.lists(st.lists(CELL, max_size=len(header) + extra), max_size=8))
    if draw(st.booleans()):  # a blank line, or one of spaces and commas, somewhere
        rows.insert(draw(st.integers(0, len(rows))), draw(st.sampled_from([[], [" ", ""]])))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(",".join(r) for r in [header, *rows]) + draw(st.sampled_from(["", end]))
    encoding = draw(st.sampled_from(["utf-8", "gb18030", "utf-8-sig"]))
    data = text.encode("gb18030" if encoding == "gb18030" else "utf-8")
    return (codecs.BOM_UTF8 + data if encoding == "utf-8-sig" else data), encoding


def _read(path, *, careful: bool, monkeypatch):
    if careful:
        monkeypatch.setattr(readers, "plain_csv", lambda p: None)
    try:
        return readers.read_table(path)
    except DataError as exc:
        return str(exc)
    finally:
        monkeypatch.undo()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_files())
def test_plain_reader_equals_the_careful_one(tmp_path, monkeypatch, made):
    data, _ = made
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    fast = _read(path, careful=False, monkeypatch=monkeypatch)
    slow = _read(path, careful=True, monkeypatch=monkeypatch)
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast, slow, check_index_type="equiv")
    for key in ("encoding", "blank_rows", "dates_normalized", "typed_dates"):
        assert fast.attrs[key] == slow.attrs[key], key


@pytest.mark.parametrize("text", ['a,b\n"x",1\n', "a,b\r1,2\n", "a,b\n1,2,3\n", ",b\n1,2\n",
                                  "a,a\n1,2\n", "\na,b\n1,2\n", "a,b\n"])
def test_files_the_plain_reader_leaves_to_the_careful_one(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert raw_records.plain_csv(path) is None


def test_a_large_quote_free_register_is_read_by_the_plain_reader(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("unit_id,township\n" + "".join(f"u{i},青河镇\n" for i in range(1000)),
                    encoding="utf-8")
    calls = []
    original = raw_records.plain_csv
    monkeypatch.setattr(readers, "plain_csv", lambda p: calls.append(p) or original(p))
    table = readers.read_table(path)
    assert calls and len(table) == 1000 and table.index[0] == 2
    assert table.dtypes.tolist() == [object, object]
