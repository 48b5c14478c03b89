"""Survey exports (问卷星, 腾讯问卷, paper forms typed into Excel) read through a column map.

A dataset folder may hold ``columns.toml`` (:data:`COLUMN_MAP_FILE`; the format is in
``data/raw/README.md`` and the commented template ``data/templates/columns.toml``). Each
``[[source]]`` says which files it applies to (globs inside the dataset folder), whether
answers are exported as option text (``mode = "text"``, 按选项文本) or option number
(``mode = "number"``, 按选项序号: the option's position on the form, not the codebook
code), which column holds each wave field (a question number such as ``"6、"`` or the
header text, matched after NFKC, trimming, whitespace folding and dropping type suffixes
such as ``(单选题 *必答)``) and how answers map to codebook codes.

:func:`load_column_map` reads and checks the file (errors name the file, the source and
the key); :func:`read_export` reads one export (duplicate headers allowed: matrix rows);
:func:`apply_column_map` turns it into the canonical wave columns of ``data/raw/README.md``;
:func:`pingan_eval.data.wave_files.read_mapped_wave` does both for every file of a wave and
merges them. Meta columns
(序号 apart, which is the respondent id), other-option text (``其他〖...〗``) and every
column the map does not name never reach the mapped table. A value the map cannot place is
a row problem (rule :data:`UNPLACED`) naming the file, the row as the office sees it, the
source header and the value; the wave's rules then apply unchanged.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pingan_eval.data.codebook import Codebook
from pingan_eval.data.raw_records import read_records, trim_empty_end
from pingan_eval.data.readers import ROW
from pingan_eval.data.validation import PROBLEM_COLUMNS, SURVEY_COLUMNS
from pingan_eval.errors import DataError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["COLUMN_MAP_FILE", "META_COLUMNS", "MODES", "SKIPPED", "UNPLACED", "ColumnMap",
           "Export", "MappedExport", "Source", "apply_column_map", "load_column_map",
           "normalize_header", "read_export"]

#: The column map's file name in a dataset folder.
COLUMN_MAP_FILE = "columns.toml"
#: Answer export modes: option text (按选项文本) or option number (按选项序号).
MODES = ("text", "number")
#: Meta columns survey platforms put first (in any order); 序号 is the respondent id.
META_COLUMNS = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP", "总分")
#: Default markers of a skipped question (a codebook question: its "don't know" code).
SKIPPED = ("(跳过)", "（跳过）", "(空)", "（空）", "-3", "-2")
#: Rule of a value the map cannot place (in :data:`pingan_eval.data.validation.RULES`).
UNPLACED = "unmapped_value"

_SPACE = re.compile(r"\s+")
_SUFFIX = re.compile(r"[(\[【]([^()\[\]【】]*(?:题|必答|必填)[^()\[\]【】]*)[)\]】]\s*$")
_TRAILING = "：:？?。.，,;；!！*、 "
_QUESTION = re.compile(r"^(\d+)\s*(?:[、.:]|(?=\()|$)\s*(.*)$", re.S)
_QUESTION_SPEC = re.compile(r"\d+\s*[、.]?")
_LETTER = re.compile(r"^[A-Za-z]\s*[.、)]\s*(?=\S)")
_OTHER = re.compile(r"〖[^〗]*〗")
_ID_FIELD = re.compile(r"\{(id|file|period)(?::0(\d+))?\}")
_SOURCE_KEYS = {"files", "mode", "id", "skipped", "columns", "answers"}


def _fold(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def normalize_header(text: str) -> str:
    """A header as matched: NFKC, whitespace folded and trimmed, type suffixes and trailing
    punctuation dropped.

    Examples
    --------
    >>> normalize_header("6、您的性别：(单选题 *必答)\\t"), normalize_header("来自IP\\u3000")
    ('6、您的性别', '来自IP')
    """
    s = _fold(text)
    while True:
        t = _SUFFIX.sub("", s).rstrip(_TRAILING)
        if t == s:
            return s
        s = t


def _option(text: str) -> str:
    """An option's text as looked up: folded, without a letter prefix (``A.男`` is ``男``)."""
    return _LETTER.sub("", _fold(text))


@dataclass(frozen=True)
class _Column:
    key: str                # "columns.q_security", for messages
    question: str | None    # "6": the header starts with 6、 (or 6. or 6()
    header: str | None      # normalized header text
    nth: int | None         # which of several matching columns (matrix rows), 1-based


@dataclass(frozen=True)
class Source:
    """One ``[[source]]`` of a column map (see :func:`load_column_map`)."""

    map_file: str
    number: int
    files: tuple[str, ...]
    mode: str
    id_format: str | None
    columns: Mapping[str, _Column]
    answers: Mapping[str, Mapping[str, str]]   # field -> option (normalized) -> value
    skipped: frozenset[str]

    def where(self, key: str | None = None) -> str:
        """``columns.toml: [[source]] 2 key "answers.q_security"``: for messages."""
        return f"{self.map_file}: [[source]] {self.number}" + (f' key "{key}"' if key else "")

    def matches(self, file: str) -> bool:
        """Whether ``file`` (a path inside the dataset folder, ``/``-separated) is one of
        this source's files."""
        return any(fnmatch.fnmatchcase(file, g) for g in self.files)


@dataclass(frozen=True)
class ColumnMap:
    """A checked column map: its sources in file order."""

    path: Path
    sources: tuple[Source, ...]

    def source_for(self, file: str) -> Source | None:
        """The first source whose ``files`` match ``file`` (inside the dataset folder)."""
        return next((s for s in self.sources if s.matches(file)), None)


def load_column_map(path: str | Path) -> ColumnMap:
    """Read and check a column map (``columns.toml``).

    Parameters
    ----------
    path : path-like
        The TOML file.

    Returns
    -------
    ColumnMap

    Raises
    ------
    DataError
        The file is missing or not TOML, or a key is unknown, missing or of the wrong kind
        (a mode other than text/number, a column spec that is neither a question number,
        a header nor ``{question|header, nth}``, an answer table for a field without a
        column, an option number that is not a whole number, an ``id`` without ``{id}``).
        The message names the file, the source and the key, e.g.
        ``columns.toml: [[source]] 2 key "answers.q_security": ...``.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text: save it as UTF-8 (another encoding, such "
                        "as GBK, is not TOML)") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not a valid TOML file: {exc}") from None
    unknown = sorted(set(doc) - {"source"})
    if unknown:
        raise DataError(f'{path}: key "{unknown[0]}": unknown (a column map has [[source]] '
                        "tables only)")
    sources = doc.get("source")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, dict)
                                                               for s in sources):
        raise DataError(f'{path}: key "source": expected one or more [[source]] tables')
    return ColumnMap(path, tuple(_source(path.name, i, s) for i, s in enumerate(sources, 1)))


def _source(map_file: str, number: int, raw: dict[str, Any]) -> Source:
    def fail(key: str, message: str) -> DataError:
        return DataError(f'{map_file}: [[source]] {number} key "{key}": {message}')

    for key in sorted(set(raw) - _SOURCE_KEYS):
        raise fail(key, f"unknown (known: {', '.join(sorted(_SOURCE_KEYS))})")
    files = raw.get("files")
    files = [files] if isinstance(files, str) else files
    if not files or not all(isinstance(f, str) and f.strip() for f in files):
        raise fail("files", "expected a glob or a list of globs inside the dataset folder, "
                   'e.g. "survey/2026-07.csv" or ["survey/2026-06/*.xlsx"]')
    mode = raw.get("mode")
    if mode not in MODES:
        raise fail("mode", 'expected "text" (按选项文本) or "number" (按选项序号), '
                   f"got {mode!r}")
    id_format = raw.get("id")
    if id_format is not None and not (isinstance(id_format, str) and "{id" in id_format
                                      and not _ID_FIELD.sub("", id_format).count("{")):
        raise fail("id", "expected a text with {id} (the 序号), optionally {id:06} (zero-"
                   "padded), {file} (the file name without suffix) and {period}")
    skipped = raw.get("skipped", list(SKIPPED))
    if not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        raise fail("skipped", 'expected a list of texts, e.g. ["(跳过)", "-3"]')
    columns = raw.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise fail("columns", "expected a table: field = question number or header")
    cols = {field: _column(fail, f"columns.{field}", spec) for field, spec in columns.items()}
    answers = raw.get("answers", {})
    if not isinstance(answers, dict):
        raise fail("answers", "expected tables [source.answers.<field>]")
    tables: dict[str, dict[str, str]] = {}
    for field, table in answers.items():
        key = f"answers.{field}"
        if field not in cols:
            raise fail(key, f"field {field!r} has no entry in [source.columns]")
        if not isinstance(table, dict) or not table:
            raise fail(key, "expected a table: option -> value (or code)")
        tables[field] = {}
        for option, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(
                    value).strip():
                raise fail(f"{key}.{option}", f"expected a code or a text, got {value!r}")
            if mode == "number":
                if not _fold(option).isdigit() or int(_fold(option)) < 1:
                    raise fail(f"{key}.{option}", "in number mode an option is its position "
                               "on the form: a whole number >= 1")
                name = str(int(_fold(option)))
            else:
                name = _option(option)
            if name in tables[field]:
                raise fail(f"{key}.{option}", f"the option {name!r} is given twice")
            tables[field][name] = str(value).strip()
    return Source(map_file, number, tuple(f.strip() for f in files), mode, id_format, cols,
                  tables, frozenset(_fold(s) for s in skipped))


def _column(fail: Any, key: str, spec: object) -> _Column:
    if isinstance(spec, str):
        spec = {"question" if _QUESTION_SPEC.fullmatch(_fold(spec)) else "header": spec}
    if not isinstance(spec, dict) or len({"question", "header"} & set(spec)) != 1 or set(
            spec) - {"question", "header", "nth"}:
        raise fail(key, 'expected a question number ("6、"), a header text, or '
                   '{ question = "6、", nth = 2 } / { header = "...", nth = 2 }')
    nth = spec.get("nth")
    if nth is not None and (isinstance(nth, bool) or not isinstance(nth, int) or nth < 1):
        raise fail(key, f"nth must be a whole number >= 1, got {nth!r}")
    if "question" in spec:
        q = _fold(str(spec["question"]))
        if not _QUESTION_SPEC.fullmatch(q):
            raise fail(key, f"question must be a number such as \"6、\", got {q!r}")
        return _Column(key, q.rstrip("、. "), None, nth)
    header = spec["header"]
    if not isinstance(header, str) or not normalize_header(header):
        raise fail(key, "header must be a non-empty text")
    return _Column(key, None, normalize_header(header), nth)


# ------------------------------------------------------------------ reading an export
@dataclass(frozen=True, eq=False)
class Export:
    """The cells of one export file as text (:func:`read_export`)."""

    file: str                   # the path inside the dataset folder, for messages
    header: list[str]           # stripped; duplicates allowed (matrix rows)
    rows: pd.DataFrame          # positional columns 0..n-1, index: spreadsheet row
    extra: pd.Series            # surplus cells beyond the header, joined by ","
    blank_rows: list[int]
    encoding: str
    stray_quotes: dict[int, tuple[str, int, int]]


def read_export(path: str | Path, file: str | None = None) -> Export:
    """Read a CSV (UTF-8, UTF-8 with BOM, GBK, GB18030), XLSX or XLS export as text.

    Unlike :func:`pingan_eval.data.readers.read_table`, headers may repeat (a matrix
    question's rows) and no date is normalized (that happens once the map has named the
    columns). ``file`` names the file in messages (default: ``path``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    header, records, lines, blank, encoding, quotes = read_records(path)
    header = [h.strip() for h in header]
    width = len(header)
    cells = [[rec[i].strip() if i < len(rec) else "" for i in range(width)] for rec in records]
    rows = pd.DataFrame(cells, columns=range(width), index=pd.Index(lines, name=ROW),
                        dtype=object)
    extra = pd.Series([",".join(trim_empty_end(rec[width:])) for rec in records],
                      index=rows.index, dtype=object)
    trailing = [b for b in blank if lines and b < lines[-1]]
    return Export(file or str(path), header, rows, extra, trailing, encoding, quotes)


def _locate(export: Export, source: Source, column: _Column) -> int:
    """Position of the column a spec names; DataError when none or several match."""
    found = []
    for i, h in enumerate(export.header):
        norm = normalize_header(h)
        m = _QUESTION.match(norm)
        if column.question is not None:
            hit = m is not None and m.group(1) == column.question
        else:
            hit = column.header in (norm, normalize_header(m.group(2)) if m else None)
        if hit:
            found.append(i)
    spec = column.question + "、" if column.question is not None else repr(column.header)
    if not found:
        raise DataError(f"{source.where(column.key)}: no column {spec} in {export.file} "
                        f"(headers: {', '.join(export.header)})")
    if column.nth is None and len(found) > 1:
        raise DataError(f"{source.where(column.key)}: {len(found)} columns of {export.file} "
                        f"match {spec} (columns {', '.join(str(i + 1) for i in found)}): "
                        "say which with nth = 1, 2, ...")
    if column.nth is not None and column.nth > len(found):
        raise DataError(f"{source.where(column.key)}: nth = {column.nth} but only "
                        f"{len(found)} columns of {export.file} match {spec}")
    return found[(column.nth or 1) - 1]


@dataclass(frozen=True, eq=False)
class MappedExport:
    """One export in the canonical wave columns (:func:`apply_column_map`)."""

    rows: pd.DataFrame       # canonical columns (text), index: spreadsheet row
    problems: pd.DataFrame   # PROBLEM_COLUMNS + field
    unused: list[str]        # source headers the map does not name
    other_text: int          # cells whose 〖...〗 text was dropped


def apply_column_map(export: Export, source: Source, *, codebook: Codebook, period: str,
                     id_format: str | None = None) -> MappedExport:
    """Turn one export into the canonical wave columns (``data/raw/README.md``).

    Parameters
    ----------
    export : Export
        From :func:`read_export`.
    source : Source
        The map's source for this file.
    codebook : Codebook
        The codebook: its questions are wave columns, text-mode answers fall back to its
        labels, and a skipped question gets its (lowest) "don't know" code.
    period : str
        ``YYYY-MM``, for ``{period}`` in the id format.
    id_format : str, optional
        Respondent id from the 序号 when the source gives no ``id``: default ``"{id}"``.

    Returns
    -------
    MappedExport
        ``rows``: the canonical columns as text in README order (``_extra_cells`` too when
        a record has surplus cells), indexed by spreadsheet row; ``problems``: one
        :data:`UNPLACED` problem per value the map cannot place (file, row, column = the
        source header, value = the cell as typed, other-option text shown as ``〖…〗``;
        ``field`` the wave column); ``unused``: headers not used; ``other_text``.

    Raises
    ------
    DataError
        A wave column without a column in the map, a spec matching no column (or several
        without ``nth``), two fields on one column, a number-mode codebook question
        without an answer table, or an answer code not in the codebook; naming the map
        file, the source and the key.
    """
    fields = {"respondent_id": _Column("columns.respondent_id", None, "序号", None),
              **source.columns}
    wanted = (*SURVEY_COLUMNS, *codebook.columns)
    for field in fields:
        if field not in wanted:
            raise DataError(f"{source.where('columns.' + field)}: unknown wave field "
                            f"(fields: {', '.join(wanted)})")
    for field in wanted:
        if field not in fields:
            raise DataError(f"{source.where('columns.' + field)}: missing: every wave field "
                            "needs a column (a question number or header)")
    where = {f: _locate(export, source, fields[f]) for f in wanted}
    seen: dict[int, str] = {}
    for f, i in where.items():
        if i in seen:
            raise DataError(f"{source.where('columns.' + f)}: column {export.header[i]!r} is "
                            f"also columns.{seen[i]}")
        seen[i] = f
    questions = {q.question: q for q in codebook.questions}
    out = pd.DataFrame(index=export.rows.index)
    found: list[pd.DataFrame] = []
    other = 0
    for field in wanted:
        typed = export.rows[where[field]]
        has_other = typed.str.contains("〖", regex=False)
        other += int(has_other.sum())
        raw = typed.str.replace(_OTHER, "", regex=True).map(_fold)
        value, bad = _place(raw, field, source, questions.get(field))
        out[field] = value.where(~bad, raw)
        if bad.any():
            shown = typed.str.replace(_OTHER, "〖…〗", regex=True)
            found.append(pd.DataFrame({"file": export.file, "row": out.index[bad.to_numpy()],
                                       "column": export.header[where[field]],
                                       "value": shown[bad].to_numpy(), "rule": UNPLACED,
                                       "field": field}))
    stem = Path(export.file).stem
    out["respondent_id"] = [_format_id(source.id_format or id_format or "{id}", v, stem, period)
                            for v in out["respondent_id"]]
    if export.extra.astype(bool).any():
        out["_extra_cells"] = export.extra
    problems = (pd.concat(found, ignore_index=True) if found else
                pd.DataFrame(columns=[*PROBLEM_COLUMNS, "field"]).astype({"row": "int64"}))
    unused = [h for i, h in enumerate(export.header) if i not in seen and h]
    return MappedExport(out, problems, unused, other)


def _place(raw: pd.Series, field: str, source: Source, question: Any
           ) -> tuple[pd.Series, pd.Series]:
    """Values of one field and the mask of cells the map cannot place."""
    table = source.answers.get(field)
    skipped = raw.isin(source.skipped)
    missing = str(min(question.missing)) if question is not None and question.missing else ""
    if question is None and table is None:
        return raw.where(~skipped, ""), pd.Series(False, index=raw.index)
    key = f"answers.{field}"
    if source.mode == "number":
        if table is None:
            raise DataError(f"{source.where(key)}: missing: in number mode the option numbers "
                            f"of {field} (their position on the form) need their codes")
        lookup = dict(table)
        keys = raw.map(lambda v: str(int(v)) if v.isdigit() else v)
    else:
        lookup = {} if question is None else {_option(label): str(code)
                                              for code, label in question.labels.items()}
        lookup.update(table or {})
        keys = raw.map(_option)
    if question is not None:
        for option, code in (table or {}).items():
            if not code.isdigit() or int(code) not in question.codes:
                raise DataError(f"{source.where(f'{key}.{option}')}: code {code!r} is not a "
                                f"code of {field} in the codebook")
    value = keys.map(lookup)
    bad = value.isna() & (raw != "") & ~skipped
    value = value.fillna("").where(~skipped, missing)
    return value.astype(object), bad


def _format_id(template: str, value: str, stem: str, period: str) -> str:
    if value == "":
        return ""

    def one(m: re.Match[str]) -> str:
        text = {"id": value, "file": stem, "period": period}[m.group(1)]
        return text.zfill(int(m.group(2))) if m.group(2) and text.isdigit() else text

    return _ID_FIELD.sub(one, template)

