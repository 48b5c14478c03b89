"""The codebook: which answer codes count toward each indicator, and their scores.

``codebook.csv`` has one row per question x code (see ``data/raw/README.md``). A code is
*positive* (indicator 1), *missing* ("don't know" / refused: indicator NaN, the
respondent stays in the design) or otherwise negative (indicator 0). Where the codebook
gives scores, the 0-100 score index of the question is the score of the code (NaN for a
missing code).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pingan_eval.data.readers import parse_numbers, read_table
from pingan_eval.errors import DataError

#: The survey indicators, in report order; every codebook must define all of them.
INDICATORS = ("awareness", "participation", "satisfaction", "security", "legal_satisfaction")

#: Indicators with a 0-100 score index; ``<indicator>_score`` is always an output column.
SCORED = ("satisfaction", "security", "legal_satisfaction")

CODEBOOK_COLUMNS = ("question", "indicator", "code", "label_zh", "positive", "score", "missing")


@dataclass(frozen=True)
class Question:
    """One question of the codebook.

    Attributes
    ----------
    question : str
        Survey column, e.g. ``q_security``.
    indicator : str
        Indicator code, one of :data:`INDICATORS`.
    labels : Mapping[int, str]
        Chinese label of every valid code.
    positive, missing : frozenset of int
        Codes counting toward the rate; codes meaning "don't know" / refused.
    scores : Mapping[int, float]
        0-100 score of every non-missing code, or empty if the question has no score.
    """

    question: str
    indicator: str
    labels: Mapping[int, str]
    positive: frozenset[int]
    missing: frozenset[int]
    scores: Mapping[int, float]

    @property
    def codes(self) -> frozenset[int]:
        """Every valid code."""
        return frozenset(self.labels)


@dataclass(frozen=True)
class Codebook:
    """All questions, in :data:`INDICATORS` order."""

    questions: tuple[Question, ...]

    @property
    def columns(self) -> list[str]:
        """Survey columns the codebook describes (``q_*``), in indicator order."""
        return [q.question for q in self.questions]

    def recode(self, codes: pd.DataFrame) -> pd.DataFrame:
        """Turn answer codes into 0/1/NaN indicators and 0-100/NaN scores.

        Parameters
        ----------
        codes : pandas.DataFrame
            One column per question (:attr:`columns`), integer codes (or their text).

        Returns
        -------
        pandas.DataFrame
            Same index; columns awareness, participation, satisfaction, security,
            legal_satisfaction (float64: 1.0 positive, 0.0 negative, NaN missing), then
            satisfaction_score, security_score, legal_satisfaction_score (float64 0-100,
            NaN for a missing code or a question without scores).

        Raises
        ------
        DataError
            If a code is not in the codebook (validation rejects such rows first).

        Examples
        --------
        >>> q = Question("q_security", "security", {1: "很安全", 4: "不太安全", 9: "说不清"},
        ...              frozenset({1}), frozenset({9}), {1: 100.0, 4: 25.0})
        >>> cb = Codebook((q,))
        >>> cb.recode(pd.DataFrame({"q_security": ["1", "4", "9"]}))[["security",
        ...                                                            "security_score"]]
           security  security_score
        0       1.0           100.0
        1       0.0            25.0
        2       NaN             NaN
        """
        out = pd.DataFrame(index=codes.index)
        for q in self.questions:
            code = pd.to_numeric(codes[q.question].astype(str), errors="coerce")
            unknown = ~code.isin(list(q.codes))
            if unknown.any():
                row = unknown.idxmax()
                raise DataError(f"row {row}, column {q.question}: code "
                                f"{codes.loc[row, q.question]!r} is not in the codebook")
            value = code.isin(list(q.positive)).astype("float64")
            out[q.indicator] = value.mask(code.isin(list(q.missing)))
        for ind in SCORED:
            q = next((q for q in self.questions if q.indicator == ind), None)
            if q is None or not q.scores:
                out[f"{ind}_score"] = np.nan
            else:
                code = pd.to_numeric(codes[q.question].astype(str))
                out[f"{ind}_score"] = code.map(q.scores).astype("float64")
        return out.reindex(columns=[*INDICATORS, *(f"{i}_score" for i in SCORED)])


def load_codebook(path: str | os.PathLike) -> Codebook:
    """Read and check ``codebook.csv``.

    Parameters
    ----------
    path : path-like
        The codebook (CSV in any supported encoding, or XLSX).

    Returns
    -------
    Codebook

    Raises
    ------
    DataError
        On a missing column; a code, ``positive``, ``missing`` or ``score`` that is not a
        number in range (codes whole, flags 0/1, scores 0-100); a code both positive and
        missing; a repeated question x code; a question mapped to two indicators or an
        indicator to two questions; an unknown or absent indicator; or a question whose
        non-missing codes are only partly scored. The message names the file and row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "codebook.csv"
    >>> rows = ["question,indicator,code,label_zh,positive,score,missing"]
    >>> for i, ind in enumerate(INDICATORS):
    ...     rows += [f"q{i},{ind},1,是,1,,0", f"q{i},{ind},2,否,0,,0", f"q{i},{ind},9,说不清,0,,1"]
    >>> _ = p.write_text("\\n".join(rows), encoding="utf-8")
    >>> cb = load_codebook(p)
    >>> cb.columns, sorted(cb.questions[0].positive), sorted(cb.questions[0].missing)
    (['q0', 'q1', 'q2', 'q3', 'q4'], [1], [9])
    """
    path = Path(path)
    t = read_table(path, CODEBOOK_COLUMNS)
    t = parse_numbers(t, ["code"])
    t = parse_numbers(t, ["positive", "missing"], minimum=0, maximum=1)
    t = parse_numbers(t, ["score"], integer=False, minimum=0, maximum=100, allow_blank=True)

    def fail(row: object, col: str, message: str) -> DataError:
        return DataError(f"{path}: row {row}, column {col}: {message}")

    bad = ~t["indicator"].isin(INDICATORS)
    if bad.any():
        row = bad.idxmax()
        raise fail(row, "indicator", f"unknown indicator {t.loc[row, 'indicator']!r} "
                   f"(known: {', '.join(INDICATORS)})")
    if (t["question"] == "").any():
        raise fail((t["question"] == "").idxmax(), "question", "blank")
    both = (t["positive"] == 1) & (t["missing"] == 1)
    if both.any():
        raise fail(both.idxmax(), "missing", "a code cannot be both positive and missing")
    dup = t.duplicated(["question", "code"])
    if dup.any():
        raise fail(dup.idxmax(), "code", f"code {t.loc[dup.idxmax(), 'code']:g} repeats")
    for a, b in (("question", "indicator"), ("indicator", "question")):
        two = t.groupby(a)[b].transform("nunique") > 1
        if two.any():
            row = two.idxmax()
            raise fail(row, b, f"{a} {t.loc[row, a]!r} maps to more than one {b}")
    absent = [i for i in INDICATORS if i not in set(t["indicator"])]
    if absent:
        raise DataError(f"{path}: column indicator: no question for {', '.join(absent)}")

    questions = []
    for ind in INDICATORS:
        rows = t[t["indicator"] == ind]
        scored = rows[rows["missing"] == 0]
        if scored["score"].notna().any() and scored["score"].isna().any():
            row = scored["score"].isna().idxmax()
            raise fail(row, "score", f"question {rows['question'].iloc[0]!r} scores some "
                       "codes but not this one")
        codes = rows["code"].astype(int)
        questions.append(Question(
            question=rows["question"].iloc[0],
            indicator=ind,
            labels=dict(zip(codes, rows["label_zh"], strict=True)),
            positive=frozenset(codes[rows["positive"] == 1]),
            missing=frozenset(codes[rows["missing"] == 1]),
            scores={int(c): float(s) for c, s in zip(scored["code"], scored["score"], strict=True)
                    if not np.isnan(s)},
        ))
    return Codebook(tuple(questions))
