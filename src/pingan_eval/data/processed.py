"""Reading a prepared period back: its respondents, typed, and its calibrated design.

``pingan-eval prepare`` (:mod:`pingan_eval.data.prepare`) writes
``<processed>/<period>/``; :func:`load_respondents` reads ``respondents.csv`` with its
documented types (:data:`RESPONDENT_COLUMNS`) and :func:`load_design` rebuilds the survey
design, re-raked to the stored ``margins.csv``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pingan_eval import paths
from pingan_eval.data.codebook import INDICATORS, SCORED
from pingan_eval.data.wave_weights import rake_margins, trim_to_median
from pingan_eval.errors import DataError

__all__ = ["RESPONDENT_COLUMNS", "cached_reads", "load_design", "load_respondents"]

#: Columns of ``respondents.csv``, in order (a contract with the report notebooks).
RESPONDENT_COLUMNS = (
    "respondent_id", "township", "village", "kind", "household_id", "interview_date", "sex",
    "age", "age_group", "ethnicity", "household_adults", *INDICATORS,
    *(f"{i}_score" for i in SCORED), "psu_total", "base_weight", "nr_weight", "weight",
)
_TEXT_COLUMNS = ("respondent_id", "township", "village", "kind", "household_id",
                 "interview_date", "sex", "age_group", "ethnicity")


#: What :func:`cached_reads` keeps while its block runs (None outside it).
_cache: dict[tuple, Any] | None = None


@contextlib.contextmanager
def cached_reads() -> Iterator[None]:
    """Within the block, each period's respondents and design are read from disk once.

    The batch's shared estimation reads a month for its direct estimates, its pooled
    windows, the model and the breakdowns; inside this block the second reading of a
    folder's period is the first one's result (a copy of the respondents; the design,
    which is never changed in place, itself). Outside it nothing is kept.
    """
    global _cache
    outer, _cache = _cache, ({} if _cache is None else _cache)
    try:
        yield
    finally:
        _cache = outer


def _cached(key: tuple, make: Any) -> Any:
    if _cache is None:
        return make()
    if key not in _cache:
        _cache[key] = make()
    return _cache[key]


def _processed(period: str, processed_dir: str | Path, name: str) -> Path:
    path = Path(processed_dir) / period / name
    if not path.is_file():
        raise DataError(f"{path}: not found; run `pingan-eval prepare --period {period}`")
    return path


def load_respondents(period: str, processed_dir: str | Path = paths.PROCESSED_DIR
                     ) -> pd.DataFrame:
    """Read ``respondents.csv`` of a prepared period with its documented types.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESPONDENT_COLUMNS`: text columns as str, age and
        household_adults and psu_total as int64, indicators, scores and weights float64
        (NaN where missing).

    Raises
    ------
    DataError
        If the period has not been prepared in ``processed_dir``.
    """
    key = ("respondents", str(Path(processed_dir).resolve()), period)
    return _cached(key, lambda: _read_respondents(period, processed_dir)).copy()


def _read_respondents(period: str, processed_dir: str | Path) -> pd.DataFrame:
    path = _processed(period, processed_dir, "respondents.csv")
    dtypes = {c: str for c in _TEXT_COLUMNS}
    dtypes.update(age="int64", household_adults="int64", psu_total="int64")
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={
        c: [""] for c in RESPONDENT_COLUMNS if c not in _TEXT_COLUMNS})
    return df[list(RESPONDENT_COLUMNS)]


def load_design(period: str, processed_dir: str | Path = paths.PROCESSED_DIR, *,
                lonely_psu: str = "adjust") -> Any:
    """The calibrated survey design of a prepared period.

    Re-rakes ``nr_weight`` to the stored ``margins.csv`` (so variances account for the
    calibration, as R's ``rake`` does) and checks that the result equals the stored
    ``weight`` column.

    Returns
    -------
    SurveyDesign
        ``strata="township", psu="village"``, ``lonely_psu`` (default ``"adjust"``, as
        the shipped plan's ``[estimation] lonely_psu``: a township with respondents in
        one village only does not stop the county), raked weights, over
        :func:`load_respondents`.

    Raises
    ------
    DataError
        If the period has not been prepared, or the re-raked weights differ from the
        stored ones (the folder was edited by hand).
    """
    key = ("design", str(Path(processed_dir).resolve()), period, lonely_psu)
    return _cached(key, lambda: _build_design(period, processed_dir, lonely_psu))


def _build_design(period: str, processed_dir: str | Path, lonely_psu: str) -> Any:
    from pingan_eval.survey.design import SurveyDesign

    df = load_respondents(period, processed_dir)
    margins = pd.read_csv(_processed(period, processed_dir, "margins.csv"),
                          dtype={"township": str, "margin": str, "level": str})
    report = json.loads(_processed(period, processed_dir, "validation.json").read_text(
        encoding="utf-8"))
    w = report["weighting"]
    d = SurveyDesign(df, strata="township", psu="village", weights="nr_weight",
                     lonely_psu=lonely_psu)
    d = d.rake(rake_margins(margins), epsilon=w["rake_epsilon"], max_iter=w["rake_max_iter"])
    if w["trim"] is not None:
        d = d._evolve(weights=trim_to_median(np.asarray(d.weights), df["township"], w["trim"]))
    if not np.allclose(d.weights, df["weight"].to_numpy(), rtol=1e-9, atol=0):
        raise DataError(f"{Path(processed_dir) / period}: stored weights differ from the "
                        "re-raked nr_weight; prepare the period again")
    return d
