"""The forest plot: estimates and 95 % intervals of an area beside the county and the
other townships, one panel per indicator.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from pingan_eval import labels
from pingan_eval.plan import PlanLike, as_plan
from pingan_eval.report.charts.layout import (
    FLAG_STYLE,
    GRID,
    TARGET,
    VERDICT_STYLE,
    figure_legend,
    indicator_order,
    limits,
    new_figure,
    panel_row,
    short_name,
    suptitle,
)
from pingan_eval.summary.official import official_rows
from pingan_eval.summary.peers import lowest_townships, peer_distribution

_HIGHLIGHT = "#FFF3C4"
#: The townships' spread on one row of a large county's forest plot.
_BOX = {"facecolor": "#D9D9D9", "edgecolor": "#7F7F7F", "linewidth": 1.0}
#: Above this many areas, a township's forest plot folds the other townships into a strip.
FOREST_FULL_ROWS = 15
#: Above this many townships, the county's forest plot shows their spread and the
#: :data:`COUNTY_LOWEST` furthest below target, not every township.
COUNTY_FULL_ROWS = 40
COUNTY_LOWEST = 30


def _legend_handles(table: pd.DataFrame, target: float | None) -> list:
    handles = [Line2D([], [], linestyle="", markersize=8, label=labels.zh("verdict", v),
                      color=s["color"], marker=s["marker"])
               for v, s in VERDICT_STYLE.items() if (table["verdict"] == v).any()]
    if (table["flag"] == "review").any():
        handles.append(Line2D([0, 1], [0, 0], linestyle=":", marker="o", markersize=8,
                              markerfacecolor="white", color=FLAG_STYLE["color"],
                              label=f"空心、虚线：{labels.FLAGS['review']}"))
    if (table["flag"] == "suppress").any():
        handles.append(Line2D([], [], linestyle="", label=labels.SUPPRESSED + "（已注明）"))
    if target is not None:
        handles.append(Line2D([], [], label=f"目标 {target:.0%}", **TARGET))
    return handles


def forest_plot(summary: pd.DataFrame, area: str, *, period: str | None = None,
                indicators: Sequence[str] | None = None, plan: PlanLike = None,
                peers: pd.DataFrame | None = None) -> Figure:
    """Estimates and 95 % intervals of ``area`` beside the county and the other townships.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output (one period). Only survey rows
        are drawn.
    area : str
        The township (or county) to highlight.
    period : str, optional
        Shown in the title; default the table's period.
    indicators : sequence of str, optional
        Indicator codes to draw, in order; default every survey indicator of the table.
    plan : Plan, path or None
        Which estimate of each area is drawn: the official one
        (:func:`~pingan_eval.summary.official_rows`); ``None`` reads the shipped plan.
    peers : pandas.DataFrame, optional
        :func:`~pingan_eval.summary.peers.peer_distribution` of the period: the spread
        drawn when the townships share one row (the batch gives a large county's
        township reports only their own and the county's rows, and this).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per indicator; one row per area (county first, table order), the
        target as a dashed line. Colour and shape give the verdict; flagged estimates
        are hollow with a dotted interval (``review``) or replaced by a note
        (``suppress``). For a township of a county with more than
        :data:`FOREST_FULL_ROWS` areas (the county and its townships, counted from
        ``peers`` when ``summary`` is a slice of the county) the townships share one row,
        a box from their 25th to 75th percentile with whiskers from the 10th to the 90th
        and a tick at the median (suppressed estimates left out), so the township's own
        row stays readable. The county overview lists every township up to
        :data:`COUNTY_FULL_ROWS`; beyond, the townships' spread and the
        :data:`COUNTY_LOWEST` furthest below their targets, lowest first.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"period": "2026-11", "area": ["青河县", "青河镇"],
    ...     "area_level": ["county", "township"], "indicator": "awareness",
    ...     "name_zh": "知晓率", "source": "survey", "estimate": [0.97, 0.98],
    ...     "ci_low": [0.96, 0.95], "ci_high": [0.98, 0.99], "target": 0.95,
    ...     "verdict": ["met", "undecided"], "flag": "ok", "flag_reason": ""})
    >>> fig = forest_plot(t, "青河镇")
    >>> [x.get_text() for x in fig.axes[0].texts if x.get_gid() == "panel_title"]
    ['知晓率']
    """
    survey = official_rows(summary[summary["source"] == "survey"], as_plan(plan))
    codes = indicator_order(survey, indicators)
    if not codes:
        raise ValueError("forest_plot: the summary has no survey rows")
    areas = list(dict.fromkeys(survey["area"]))
    period = period or str(survey["period"].iloc[0])
    is_county = (survey.loc[survey["area"] == area, "area_level"] == "county").any()
    counties = list(dict.fromkeys(survey.loc[survey["area_level"] == "county", "area"]))
    # A township of a large county: its own and the county's rows, the townships as the
    # spread of their estimates (a hundred labelled rows in every report would bury it).
    strip, note = None, ""
    townships = [a for a in areas if a not in counties]
    many = len(townships) > COUNTY_FULL_ROWS
    # the county's size: the table's, or the spread's when the table is a slice of it
    in_county = len(areas) if peers is None or peers.empty else max(
        len(areas), len(counties) + int(peers["townships"].max()))
    if (not is_county and area in areas and in_county > FOREST_FULL_ROWS
            or is_county and many):
        if peers is None:
            peers = peer_distribution(summary, as_plan(plan))
        peers = peers[peers["period"] == period].set_index("indicator")
        strip = f"全部{int(peers['townships'].max()) if len(peers) else 0}个乡镇"
        if is_county:  # a large county: the spread, then those furthest below target
            lowest = lowest_townships(survey, COUNTY_LOWEST)
            rows_shown = [*counties, strip, *lowest]
            note = f"\n（共{len(townships)}个乡镇：分布及离目标最远的{len(lowest)}个）"
        else:
            rows_shown = [*counties, area, strip]
    else:
        rows_shown = areas
    fig, axes = new_figure(1, 1, 2.3 * len(codes) + 1.6, 0.42 * len(rows_shown) + 1.9)
    ax = axes[0][0]
    y = {a: i for i, a in enumerate(rows_shown)}
    lo, hi = limits(survey.loc[survey["flag"] != "suppress", "ci_low"],
                     float(survey["target"].min()))
    name = short_name(area)
    heading = f"{name}与各乡镇" if is_county else f"{name}与全县、其他乡镇"
    shown = survey[survey["indicator"].isin(codes)]
    handles = _legend_handles(shown[shown["area"].isin(list(y))],
                              float(survey["target"].iloc[0]))
    if strip is not None:
        handles.insert(-1, Patch(label="各乡镇估计值：25%—75%分位（须线10%—90%，竖线中位数）",
                                 **_BOX))
    top = suptitle(fig, f"{heading}比较：估计值及95%置信区间（{period}）{_basis(survey)}{note}")
    bottom = figure_legend(fig, handles, ncol=6)
    by_code = {code: rows for code, rows in survey.groupby("indicator", sort=False)}
    offsets = panel_row(fig, ax, [str(by_code[c]["name_zh"].iloc[0]) for c in codes],
                        [short_name(a) for a in rows_shown], top=top, bottom=bottom, lo=lo,
                        hi=hi, label_size=mpl.rcParams["ytick.labelsize"], bold=name)
    ax.grid(axis="x", color=GRID, zorder=0)
    if area in y:
        ax.broken_barh([(lo + off, hi - lo) for off in offsets], (y[area] - 0.45, 0.9),
                       color=_HIGHLIGHT, zorder=0)
    labelled = pd.concat([by_code[c][by_code[c]["area"].isin(list(y))].assign(_offset=off)
                          for c, off in zip(codes, offsets, strict=True)])
    _intervals(ax, labelled, np.array([y[a] for a in labelled["area"]], dtype=float), lo)
    for code, off in zip(codes, offsets, strict=True):
        if strip is not None and code in peers.index:
            _spread(ax, peers.loc[code], float(y[strip]), off)
        # above the grid (its axis is drawn at 1.5), below the estimates
        ax.axvline(float(by_code[code]["target"].iloc[0]) + off, **TARGET, zorder=1.8)
    return fig


def _spread(ax, q: pd.Series, y: float, offset: float) -> None:
    """The townships' quartile box, 10-90 % whiskers and median tick at row ``y`` (x
    shifted by the panel's ``offset``)."""
    q = q[["q10", "q25", "q50", "q75", "q90"]].astype(float) + offset
    ax.plot([q["q10"], q["q90"]], [y, y], color=_BOX["edgecolor"], linewidth=1.0, zorder=2)
    ax.add_patch(Rectangle((q["q25"], y - 0.22), q["q75"] - q["q25"], 0.44, zorder=3, **_BOX))
    ax.plot([q["q50"], q["q50"]], [y - 0.22, y + 0.22], color="#404040", linewidth=1.6,
            zorder=4)


def _basis(survey: pd.DataFrame) -> str:
    """（全县为本月直接估计，乡镇为模型估计）where the levels' estimators differ."""
    if "estimator" not in survey:
        return ""
    used = survey.drop_duplicates("area_level").set_index("area_level")["estimator"]
    if used.nunique() < 2:
        return ""
    return "\n（" + "，".join(f"{labels.zh('area_level', lv)}为{labels.zh('estimator', e)}"
                             for lv, e in used.items()) + "）"


def _intervals(ax, rows: pd.DataFrame, y: np.ndarray, lo: float) -> None:
    """Estimates with their intervals at rows ``y``, styled by verdict and flag, x
    shifted by each row's panel ``_offset``.

    One artist per style, not per row and panel: a county of 100 townships draws
    5 x 100 rows.
    """
    offset = rows["_offset"].to_numpy(dtype=float)
    estimate = rows["estimate"].to_numpy(dtype=float) + offset
    low = rows["ci_low"].to_numpy(dtype=float) + offset
    high = rows["ci_high"].to_numpy(dtype=float) + offset
    hidden = rows["flag"].eq("suppress").to_numpy() | ~np.isfinite(estimate)
    for xx, yy in zip(lo + offset[hidden], y[hidden], strict=True):
        ax.text(xx, yy, " " + labels.SUPPRESSED, va="center", ha="left", fontsize=7,
                color=FLAG_STYLE["color"])
    verdict = rows["verdict"].where(rows["verdict"].isin(list(VERDICT_STYLE)), "undecided")
    review = rows["flag"].eq("review").to_numpy()
    for v, style in VERDICT_STYLE.items():
        for dotted in (False, True):
            pick = ~hidden & verdict.eq(v).to_numpy() & (review == dotted)
            if not pick.any():
                continue
            # hlines' segments each start their dot pattern, as one line per row did
            ax.hlines(y[pick], low[pick], high[pick], colors=style["color"],
                      linestyles=":" if dotted else "-", linewidth=1.8 if dotted else 2.2,
                      capstyle="butt" if dotted else "projecting", zorder=2)
            ax.plot(estimate[pick], y[pick], linestyle="", marker=style["marker"],
                    markersize=7, color=style["color"], markeredgewidth=1.6, zorder=3,
                    markerfacecolor="white" if dotted else style["color"])
