"""A survey wave of one or more export files, read through the column map and merged.

:func:`read_mapped_wave` reads every file of a wave (``survey/<period>.csv``, or each file
of ``survey/<period>/``, one per township say) through the source of ``columns.toml`` that
matches it (:mod:`pingan_eval.data.column_map`) and merges them into one canonical wave
for :func:`pingan_eval.data.validation.validate_wave`; :class:`MappedWave` then combines
the map's problems with the wave rules' and gives every problem its file and row back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pingan_eval.data.codebook import Codebook
from pingan_eval.data.column_map import ColumnMap, apply_column_map, read_export
from pingan_eval.data.dates import normalize_dates
from pingan_eval.data.personal import dropped_columns
from pingan_eval.data.readers import ROW
from pingan_eval.data.validation import PROBLEM_COLUMNS, RULES
from pingan_eval.errors import DataError

__all__ = ["MappedWave", "read_mapped_wave"]


@dataclass(frozen=True, eq=False)
class MappedWave:
    """A wave read through the column map from one or more export files.

    ``rows`` is the canonical wave (text, README columns) for
    :func:`pingan_eval.data.validation.validate_wave`; its index is a row key: the
    spreadsheet row when the wave is one file, else a running number (``origin`` gives the
    file and spreadsheet row of each key, and ``label`` what ``rejected.csv`` shows:
    the row, or ``<file name>:<row>`` for a wave of several files). ``problems`` holds the
    :data:`~pingan_eval.data.column_map.UNPLACED` problems (rows as keys). ``report`` is
    the ``column_map`` section of the validation report; ``dropped`` the source columns
    kept out of every output.
    """

    rows: pd.DataFrame
    problems: pd.DataFrame
    origin: pd.DataFrame
    files: tuple[str, ...]
    encoding: str
    report: dict[str, Any]
    dropped: dict[str, list[str]]

    def combine(self, problems: pd.DataFrame) -> pd.DataFrame:
        """The wave rules' ``problems`` (rows as keys) with the map's, sorted as
        :func:`~pingan_eval.data.validation.validate_wave` sorts; a wave rule's problem
        on a cell the map could not place is left out (the map's problem says why)."""
        mine = self.problems
        if mine.empty:
            return problems
        clash = set(zip(mine["row"], mine["field"], strict=True))
        keep = [(r, c) not in clash for r, c in zip(problems["row"], problems["column"],
                                                     strict=True)]
        out = pd.concat([problems[keep], mine.drop(columns="field")], ignore_index=True)
        rank = {r: i for i, r in enumerate(RULES)}
        out = out.assign(_r=out["rule"].map(rank)).sort_values(["row", "_r", "column"],
                                                               kind="stable")
        return out.drop(columns="_r").reset_index(drop=True).astype({"row": "int64"})

    def locate(self, problems: pd.DataFrame) -> pd.DataFrame:
        """``problems`` with each row key replaced by its file and spreadsheet row."""
        out = problems.copy()
        out["file"] = self.origin["file"].reindex(problems["row"]).to_numpy()
        out["row"] = self.origin["row"].reindex(problems["row"]).to_numpy()
        return out.astype({"row": "int64"})

    def labels(self, keys: Sequence[int]) -> list[Any]:
        """What ``rejected.csv`` shows as ``source_row`` for row keys."""
        return self.origin["label"].reindex(list(keys)).tolist()


def read_mapped_wave(paths: Sequence[Path], column_map: ColumnMap, *, raw_dir: Path,
                     codebook: Codebook, period: str) -> MappedWave:
    """Read every export file of a wave through the column map and merge them.

    Parameters
    ----------
    paths : sequence of Path
        The wave's files (one, or one per township under ``survey/<period>/``), inside
        ``raw_dir``; each must match a source of the map.
    column_map : ColumnMap
    raw_dir : Path
        The dataset folder (the map's globs are relative to it).
    codebook : Codebook
    period : str
        ``YYYY-MM``.

    Returns
    -------
    MappedWave
        Respondent ids are the 序号 formatted by the source's ``id`` (default ``{id}`` for
        a wave of one file, ``{file}-{id}``: file name without suffix, a hyphen and the
        序号, for a wave of several files, so ids are unique per file). Dates are
        normalized (:func:`~pingan_eval.data.dates.normalize_dates`; an ambiguous one is
        left for validation to reject).

    Raises
    ------
    DataError
        A file no source matches, an unreadable file, a map that does not fit a file.
    """
    several = len(paths) > 1
    parts, files, info = [], [], []
    unused: set[str] = set()
    other = 0
    for path in paths:
        file = path.relative_to(raw_dir).as_posix()
        source = column_map.source_for(file)
        if source is None:
            globs = ", ".join(g for s in column_map.sources for g in s.files)
            raise DataError(f"{file}: no [[source]] of {column_map.path.name} matches this "
                            f"file (their files: {globs})")
        export = read_export(path, file)
        mapped = apply_column_map(export, source, codebook=codebook, period=period,
                                  id_format="{file}-{id}" if several else None)
        parts.append((file, export, mapped))
        files.append(file)
        unused |= set(mapped.unused)
        other += mapped.other_text
        info.append({"file": file, "source": source.number, "mode": source.mode,
                     "encoding": export.encoding, "rows": len(export.rows)})
    frames, origins, problems, blank = [], [], [], []
    quotes: dict[int, tuple[str, int, int]] = {}
    start = 1
    for file, export, mapped in parts:
        index = mapped.rows.index
        keys = index if not several else pd.RangeIndex(start, start + len(index))
        start += len(index)
        key_of = dict(zip(index, keys, strict=True))
        name = Path(file).name
        label = list(index) if not several else [f"{name}:{r}" for r in index]
        frames.append(mapped.rows.set_axis(pd.Index(keys, name=ROW)))
        origins.append(pd.DataFrame({"file": file, "row": list(index), "label": label},
                                    index=pd.Index(keys)))
        if not mapped.problems.empty:
            problems.append(mapped.problems.assign(row=mapped.problems["row"].map(key_of)))
        blank += export.blank_rows if not several else [f"{name}:{b}" for b in
                                                        export.blank_rows]
        quotes.update({key_of[row]: q for row, q in export.stray_quotes.items()})
    rows = pd.concat(frames).fillna("")
    encoding = ", ".join(sorted({i["encoding"] for i in info}))
    rows.attrs.update(source=", ".join(files), encoding=encoding, blank_rows=blank,
                      stray_quotes=quotes)
    normalize_dates(rows, rows.attrs["source"], ambiguous_fatal=False)
    found = (pd.concat(problems, ignore_index=True) if problems else
             pd.DataFrame(columns=[*PROBLEM_COLUMNS, "field"]).astype({"row": "int64"}))
    report = {"file": column_map.path.name, "files": info, "other_text_dropped": other}
    return MappedWave(rows, found, pd.concat(origins), tuple(files), encoding, report,
                      dropped_columns(sorted(unused), ()))
