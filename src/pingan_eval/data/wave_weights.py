"""The weights of one prepared survey wave: design, non-response, census raking, trimming.

:func:`design_weights` gives each kept respondent its base and non-response weight from
the frame and the wave's fieldwork counts; :func:`collapse_empty_levels` folds census
levels without respondents into their township's largest level and leaves out the margins
of a township without any respondent (:func:`empty_township_notes` says so);
:func:`rake_to_census` rakes to the folded margins; :func:`trim_to_median` optionally trims;
:func:`weighting_summary` and :func:`fieldwork_notes` are what the validation report
says of it. The formulas and the R equivalent are in :mod:`pingan_eval.data.prepare`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from pingan_eval.data.readers import MARGINS
from pingan_eval.errors import CalibrationError, DataError
from pingan_eval.survey import calibration, weighting

__all__ = ["COLLAPSE_SHARE", "RAKE_EPSILON", "RAKE_MAX_ITER", "collapse_empty_levels",
           "design_weights", "empty_township_notes", "fieldwork_notes", "rake_margins",
           "rake_to_census",
           "thin_township_notes",
           "trim_to_median", "weighting_summary"]

#: Raking settings (R ``rake`` defaults); stored in validation.json for
#: :func:`pingan_eval.data.processed.load_design`.
RAKE_EPSILON = 1.0
RAKE_MAX_ITER = 10

#: A census level without respondents holding at most this share of its township's adults
#: is merged into the township's largest level (see :func:`collapse_empty_levels`).
COLLAPSE_SHARE = 0.05


def design_weights(df: pd.DataFrame, frame: pd.DataFrame,
                   fieldwork: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """``base_weight`` and ``nr_weight`` of each kept respondent (village, household_adults).

    ``base_weight = households_v / (psu_prob_v * households_selected_v) * household_adults``;
    ``nr_weight = base_weight * households_selected_v / kept_v``, ``kept_v`` the village's
    kept respondents.
    """
    fr = frame.set_index("village")
    fw = fieldwork.set_index("village")
    selected = df["village"].map(fw["households_selected"])
    base = (1.0 / df["village"].map(fr["psu_prob"])
            * df["village"].map(fr["households"]) / selected
            * df["household_adults"])
    kept_v = df.groupby("village")["village"].transform("size")
    return base, base * selected / kept_v


def collapse_empty_levels(df: pd.DataFrame, census: pd.DataFrame,
                          max_share: float = COLLAPSE_SHARE) -> tuple[pd.DataFrame, list[str]]:
    """Merge small census levels that have no respondent into the township's largest level.

    A township with no kept respondent at all has nothing to rake: its margins are left
    out (see :func:`empty_township_notes`), so the weights of the other townships are
    raked as usual.

    Parameters
    ----------
    df : pandas.DataFrame
        Kept respondents with township, sex, age_group, ethnicity.
    census : pandas.DataFrame
        From :func:`pingan_eval.data.readers.read_census`.
    max_share : float
        Largest share of the township's adults an empty level may hold to be merged.

    Returns
    -------
    margins : pandas.DataFrame
        ``census`` without the townships that have no respondent, with each merged
        level's population moved to the largest level of the same township and margin
        that has respondents (the merged level keeps population 0, which raking ignores).
    notes : list of str
        One line per merge, for the validation report.

    Raises
    ------
    CalibrationError
        A level with population but no kept respondent holds more than ``max_share`` of
        its township: the margin cannot be met (names township, margin and level).

    Examples
    --------
    >>> census = pd.DataFrame({"township": ["A"] * 3, "margin": ["ethnicity"] * 3,
    ...                        "level": ["哈萨克族", "汉族", "蒙古族"],
    ...                        "population": [900.0, 80.0, 20.0]})
    >>> df = pd.DataFrame({"township": ["A", "A"], "ethnicity": ["哈萨克族", "汉族"]})
    >>> m, notes = collapse_empty_levels(df, census)
    >>> m["population"].tolist()
    [920.0, 80.0, 0.0]
    >>> print(notes[0])
    A: ethnicity 蒙古族 (population 20, 2.0%) has no respondent; merged into 哈萨克族
    """
    census = census[census["township"].isin(set(df["township"]))]
    out = census.copy()
    notes = []
    seen = {m: set(zip(df["township"], df[m], strict=True)) for m in set(census["margin"])}
    for (town, margin), g in census.groupby(["township", "margin"], sort=False):
        present = {lv for lv in g["level"] if (town, lv) in seen[margin]}
        total = g["population"].sum()
        empty = g[(g["population"] > 0) & ~g["level"].isin(present)]
        if empty.empty:
            continue
        share = empty["population"] / total
        have = g[g["level"].isin(present) & (g["population"] > 0)]
        if (share > max_share).any() or have.empty:
            i = share.idxmax()
            raise CalibrationError(
                f"township {town!r}, {margin} {g.loc[i, 'level']!r}: census population "
                f"{g.loc[i, 'population']:g} ({share[i]:.1%} of the township) but no kept "
                "respondent; the margin cannot be met")
        target = have.sort_values(["population", "level"], ascending=[False, True]).index[0]
        out.loc[target, "population"] += empty["population"].sum()
        out.loc[empty.index, "population"] = 0.0
        notes += [f"{town}: {margin} {lv} (population {p:g}, {s:.1%}) has no respondent; "
                  f"merged into {g.loc[target, 'level']}"
                  for lv, p, s in zip(empty["level"], empty["population"], share, strict=True)]
    return out, notes


def rake_margins(census: pd.DataFrame) -> dict:
    """``{("township", margin): {(township, level): population}}``, sex, age_group, ethnicity."""
    return calibration.census_margins(census, by="township", margins=MARGINS)


def rake_to_census(df: pd.DataFrame, census: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """``nr_weight`` raked to the census margins; the raking facts (iterations, converged).

    Not converging in :data:`RAKE_MAX_ITER` iterations is reported, not warned about.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", calibration.RakeConvergenceWarning)  # reported instead
        r = calibration.rake(df, df["nr_weight"].to_numpy(), rake_margins(census),
                             epsilon=RAKE_EPSILON, max_iter=RAKE_MAX_ITER)
    return np.asarray(r.weights, dtype=float), {"iterations": r.iterations,
                                                "converged": r.converged}


def trim_to_median(weights: np.ndarray, township: pd.Series, factor: float) -> np.ndarray:
    """Trim weights above ``factor`` times their township's median weight.

    Each township's weight total is kept (:func:`pingan_eval.survey.weighting.trim_weights` with
    ``by=township``; R: ``trimWeights(design, upper, strict = TRUE)`` within township).

    Examples
    --------
    >>> w = np.array([1.0, 1.0, 1.0, 7.0, 2.0, 2.0])
    >>> trim_to_median(w, pd.Series(list("AAAABB")), 3.0).round(3).tolist()
    [2.333, 2.333, 2.333, 3.0, 2.0, 2.0]
    """
    if not factor > 1:
        raise DataError(f"trim factor must be above 1 (a multiple of the median), got {factor}")
    median = pd.Series(weights, index=township.index).groupby(township).transform("median")
    return np.asarray(weighting.trim_weights(weights, upper=factor * median.to_numpy(),
                                             by=township.to_numpy()), dtype=float)


def weighting_summary(df: pd.DataFrame, rake: dict[str, Any], trim: float | None) -> dict:
    """The ``weighting`` section of validation.json: design, formula, Kish deff, raking."""
    overall = weighting.weight_summary(df["weight"])
    towns = []
    for town, g in df.groupby("township", sort=True):
        t = weighting.weight_summary(g["weight"])
        towns.append({"township": town, "n": t["n"], "kish_deff": t["kish_deff"],
                      "weight_min": t["min"], "weight_max": t["max"], "weight_sum": t["sum"]})
    return {
        "design": "strata=township, psu=village (with replacement, no fpc); weights raked to "
                  "census sex, age_group, ethnicity within township",
        "formula": "base_weight = households/(psu_prob*households_selected) * household_adults;"
                   " nr_weight = base_weight * households_selected / kept respondents in village;"
                   " weight = rake(nr_weight)",
        "kish_deff": overall["kish_deff"], "weight_min": overall["min"],
        "weight_max": overall["max"], "weight_sum": overall["sum"],
        "rake_epsilon": RAKE_EPSILON, "rake_max_iter": RAKE_MAX_ITER,
        "rake_iterations": rake["iterations"], "rake_converged": rake["converged"],
        "trim": trim, "townships": towns,
    }


def fieldwork_notes(df: pd.DataFrame, fieldwork: pd.DataFrame) -> list[str]:
    """A note per village whose kept respondents differ from its fieldwork responses."""
    kept = df.groupby("village").size()
    notes = []
    for town, village, resp in zip(fieldwork["township"], fieldwork["village"],
                                   fieldwork["households_responded"], strict=True):
        n = int(kept.get(village, 0))
        if n != resp:
            notes.append(f"{town} {village}: fieldwork households_responded {resp:g}, kept "
                         f"respondents {n}; the non-response adjustment uses {n}"
                         + (" (village carries no weight)" if n == 0 else ""))
    return notes


def thin_township_notes(df: pd.DataFrame) -> list[str]:
    """A note per township with respondents in fewer than two villages this month.

    Its variance has no second village to compare with (a lonely PSU): the design treats
    it by the plan's ``[estimation] lonely_psu`` rule, and its direct estimate has no
    degrees of freedom, so its month decides nothing on its own.
    """
    villages = df.groupby("township")["village"].nunique()
    return [f"{town}: respondents in only {n} village this month; its direct estimate has "
            "no degrees of freedom (lonely PSU, see the plan's [estimation] lonely_psu)"
            for town, n in villages.items() if n < 2]


def empty_township_notes(df: pd.DataFrame, census: pd.DataFrame) -> list[str]:
    """A note per census township without any kept respondent this month.

    Its villages were not surveyed or every row of it was rejected: its census margins
    are left out of the raking (:func:`collapse_empty_levels`), it has no direct estimate
    this month, and the county's direct estimate covers the other townships only.

    Examples
    --------
    >>> census = pd.DataFrame({"township": ["A", "B"]})
    >>> empty_township_notes(pd.DataFrame({"township": ["A"]}), census)[0].split(";")[0]
    'B: no respondents this month (no kept row)'
    """
    have = set(df["township"])
    return [f"{town}: no respondents this month (no kept row); its census margins are left "
            "out of the raking, it has no estimate this month, and the county estimate "
            "covers the other townships only"
            for town in dict.fromkeys(census["township"]) if town not in have]
