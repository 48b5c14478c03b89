"""The trend chart: monthly estimates of an area with 95 % intervals, the county and the
target.

The line and band are the area's official estimate of each month (what its reports said
that month: :func:`pingan_eval.summary.official_rows`). Where that is not the month's
direct estimate (a township: months pooled, or the model), the direct estimates are drawn
beside it as points with their intervals, so the reader sees what was borrowed.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pingan_eval import labels
from pingan_eval.plan import PlanLike, as_plan
from pingan_eval.report.charts.layout import (
    FLAG_STYLE,
    GRID,
    PAD,
    VERDICT_STYLE,
    bare_y_axis,
    indicator_order,
    limits,
    new_figure,
    percent_ticks,
    place_grid,
    set_title,
    short_name,
    suptitle,
    text_size,
    tick_room,
    title_room,
)
from pingan_eval.summary.official import official_rows

_TARGET_TREND = {"color": "#000000", "linestyle": "-", "linewidth": 0.9}
_COUNTY_TREND = {"color": "#7F7F7F", "linestyle": (0, (4, 2)), "linewidth": 1.3}
_DIRECT_POINTS = {"color": "#595959", "markersize": 3.5, "elinewidth": 0.9, "capsize": 0}
_LINE = VERDICT_STYLE["met"]["color"]


def _direct(trend: pd.DataFrame) -> pd.DataFrame:
    """The direct rows (a trend table without estimators is all direct)."""
    return trend if "estimator" not in trend else trend[trend["estimator"] == "direct"]


def _line_name(rows: pd.DataFrame) -> str:
    """What the line is: 模型估计, 多月合并估计（近3个月）, ... (its commonest estimator)."""
    estimator = rows["estimator"].mode().iloc[0]
    name = labels.zh("estimator", estimator)
    if estimator == "pooled":
        pooled = rows[rows["estimator"] == "pooled"]
        span = [(pd.Period(p, freq="M") - pd.Period(w, freq="M")).n + 1
                for p, w in zip(pooled["period"], pooled["window_start"], strict=True)]
        name += f"（近{max(span)}个月）"
    return name


def _month_label(period: str, first: bool) -> str:
    p = pd.Period(period, freq="M")
    return f"{p.month}月\n{p.year}" if first or p.month == 1 else f"{p.month}月"


def trend_plot(trend: pd.DataFrame, area: str, *, county: str | None = None,
               indicators: Sequence[str] | None = None, plan: PlanLike = None) -> Figure:
    """Monthly estimates of ``area`` with 95 % interval bands, the county and the target.

    Parameters
    ----------
    trend : pandas.DataFrame
        :func:`pingan_eval.summary.trend_summary` output (survey rows over periods).
    area : str
        The township (or county) drawn with its interval band.
    county : str, optional
        The county row drawn as a dashed reference line; default the table's
        ``area_level == "county"`` area (none when ``area`` is the county).
    indicators : sequence of str, optional
        Indicator codes, in order; default every one in the table.
    plan : Plan, path or None
        Which estimate is each month's official one; ``None`` reads the shipped plan.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per indicator; months on the x axis. Suppressed months are gaps
        marked "×" and named in the legend; ``review`` months are hollow points.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"period": ["2026-10", "2026-11"], "area": "青河镇",
    ...     "area_level": "township", "indicator": "awareness", "name_zh": "知晓率",
    ...     "estimate": [0.96, 0.97], "ci_low": [0.94, 0.95], "ci_high": [0.98, 0.98],
    ...     "target": 0.95, "verdict": "undecided", "flag": "ok"})
    >>> [ax.get_title() for ax in trend_plot(t, "青河镇").axes if ax.get_title()]
    ['知晓率']
    """
    codes = indicator_order(trend, indicators)
    if not codes:
        raise ValueError("trend_plot: the trend table is empty")
    direct = _direct(trend)
    if county is None:
        counties = trend.loc[trend["area_level"] == "county", "area"]
        county = str(counties.iloc[0]) if len(counties) else None
    county = None if county == area else county
    periods = sorted(trend["period"].astype(str).unique())
    x = {p: i for i, p in enumerate(periods)}
    ncols = min(3, len(codes))
    nrows = -(-(len(codes) + 1) // ncols)
    fig, axes = new_figure(nrows, ncols, 4.0 * ncols, 2.7 * nrows + 0.6,
                            sharex=True, sharey=True)
    mine = official_rows(trend[trend["area"] == area], as_plan(plan))  # only its line is drawn
    modelled = "estimator" in mine and bool((mine["estimator"] != "direct").any())
    own = trend[(trend["area"] == area) & (trend["flag"] != "suppress")]
    lo, hi = limits(own["ci_low"], float(trend["target"].min()))
    flat = list(axes.ravel())
    xs = np.arange(len(periods))
    for ax, code in zip(flat, codes, strict=False):
        rows = _by_period(mine, area, code, periods)
        shown = rows["flag"].ne("suppress") & rows["estimate"].notna()
        est = rows["estimate"].where(shown)
        ax.fill_between(xs, rows["ci_low"].where(shown), rows["ci_high"].where(shown),
                        color=_LINE, alpha=0.18, linewidth=0)
        ax.plot(xs, est, color=_LINE, linewidth=1.8)
        if modelled:
            _direct_points(ax, _by_period(direct, area, code, periods), xs, lo)
        else:
            _points(ax, rows, shown, est, xs, lo)
        if county is not None:
            c = direct[(direct["area"] == county) & (direct["indicator"] == code)]
            ax.plot([x[p] for p in c["period"].astype(str)], c["estimate"], **_COUNTY_TREND)
        target = trend.loc[trend["indicator"] == code, "target"]
        ax.axhline(float(target.iloc[0]), **_TARGET_TREND)
        set_title(ax, str(trend.loc[trend["indicator"] == code, "name_zh"].iloc[0]))
        ax.set_ylim(lo, hi)
        ax.grid(axis="y", color=GRID)
        ax.tick_params(labelsize=8)
    months = [_month_label(p, i == 0) for i, p in enumerate(periods)]
    margin = mpl.rcParams["axes.xmargin"] * (len(periods) - 1) or 0.5
    flat[0].set_xlim(-margin, len(periods) - 1 + margin)  # the panels share x and y
    flat[0].set_xticks(range(len(periods)), months)
    for ax in flat:
        ax.tick_params(axis="x", labelbottom=True)
    legend_ax = flat[len(codes)]
    legend_ax.axis("off")
    name = _line_name(mine) if modelled else ""
    handles = _legend(direct, area, county, name)
    legend_ax.legend(handles=handles, loc="center", frameon=False, fontsize=10)
    for ax in flat[len(codes) + 1:]:
        ax.axis("off")
    basis = f"线为{name}，点为本月直接估计" if modelled else "阴影为95%置信区间"
    top = suptitle(fig, f"{short_name(area)}：近{len(periods)}个月走势（{basis}）")
    _layout_trend(fig, axes, len(codes), months, margin,
                  top=top + title_room(fig, flat[0]), lo=lo, hi=hi)
    return fig


def _by_period(rows: pd.DataFrame, area: str, code: str, periods: list[str]) -> pd.DataFrame:
    rows = rows[(rows["area"] == area) & (rows["indicator"] == code)]
    return rows.set_index(rows["period"].astype(str)).reindex(periods)


def _points(ax, rows: pd.DataFrame, shown: pd.Series, est: pd.Series, xs: np.ndarray,
            lo: float) -> None:
    """Points on the line: filled if ok, hollow for review; "×" where suppressed."""
    ok = shown & rows["flag"].eq("ok")
    ax.plot(xs[ok.to_numpy()], est[ok], "o", color=_LINE, markersize=4)
    review = shown & rows["flag"].eq("review")
    ax.plot(xs[review.to_numpy()], est[review], "o", color=_LINE, markerfacecolor="white",
            markersize=5)
    for i in np.flatnonzero(~shown.to_numpy() & rows["area"].notna().to_numpy()):
        ax.text(i, lo + 0.01, "×", ha="center", va="bottom", color=FLAG_STYLE["color"])


def _direct_points(ax, rows: pd.DataFrame, xs: np.ndarray, lo: float) -> None:
    """The month's direct estimates with their intervals, beside the model line; an
    interval reaching below the axis is cut at it (the point says where it is)."""
    shown = (rows["flag"].ne("suppress") & rows["estimate"].notna()).to_numpy()
    est = rows["estimate"].to_numpy(dtype=float)
    low = np.maximum(rows["ci_low"].to_numpy(dtype=float), lo)
    high = rows["ci_high"].to_numpy(dtype=float)
    ax.errorbar(xs[shown] + 0.12, est[shown],
                yerr=[est[shown] - low[shown], high[shown] - est[shown]], fmt="o",
                zorder=3, **_DIRECT_POINTS)
    for i in np.flatnonzero(~shown & rows["area"].notna().to_numpy()):
        ax.text(i, lo + 0.01, "×", ha="center", va="bottom", color=FLAG_STYLE["color"])


def _legend(direct: pd.DataFrame, area: str, county: str | None, name: str) -> list:
    """``name``: what the line is when it is not the direct estimate ("" when it is)."""
    shown = short_name(area)
    if name:
        handles = [Line2D([], [], color=_LINE, linewidth=1.8, label=f"{shown}{name}"),
                   Patch(color=_LINE, alpha=0.18, label="其95%区间"),
                   Line2D([], [], marker="o", linestyle="", color=_DIRECT_POINTS["color"],
                          markersize=3.5, label="本月直接估计及95%置信区间")]
    else:
        handles = [Line2D([], [], color=_LINE, marker="o", markersize=4, linewidth=1.8,
                          label=f"{shown}估计值"),
                   Patch(color=_LINE, alpha=0.18, label="95%置信区间")]
    if county is not None:
        handles.append(Line2D([], [], label=f"{short_name(county)}（全县）", **_COUNTY_TREND))
    handles.append(Line2D([], [], label="目标", **_TARGET_TREND))
    own = direct[direct["area"] == area]
    if not name and (own["flag"] == "review").any():
        handles.append(Line2D([], [], linestyle="", marker="o", markerfacecolor="white",
                              color=_LINE, label=f"空心：{labels.FLAGS['review']}"))
    if (own["flag"] == "suppress").any():
        handles.append(Line2D([], [], linestyle="", marker="$×$", color=FLAG_STYLE["color"],
                              label=labels.SUPPRESSED))
    return handles


def _layout_trend(fig: Figure, axes: np.ndarray, panels: int, months: list[str],
                  margin: float, *, top: float, lo: float, hi: float) -> None:
    """Lay out the trend panels (the first ``panels`` of ``axes``, row by row): each
    has its titled, month-labelled x axis; the first column has the percent y axis;
    ``margin`` is the x padding in months."""
    month_w = max(text_size(fig, m, fontsize=8)[0] for m in (months[0], months[-1]))
    month_h = max(text_size(fig, m, fontsize=8)[1] for m in months)
    below = month_h + tick_room("x")
    left = PAD + text_size(fig, "100%", fontsize=8)[0] + tick_room("y")
    width = fig.get_figwidth()
    ncols = axes.shape[1]
    # end month labels stick out of a panel when the x padding is narrower than half
    # of them (measured on the narrowest panels they could get)
    narrowest = (width - left - (PAD + month_w / 2) - (ncols - 1) * (PAD + month_w)) / ncols
    span = len(months) - 1 + 2 * margin
    out = max(0.0, month_w / 2 - margin / span * max(narrowest, 0.0))
    ytick = mpl.rcParams["ytick.major.size"] / 72  # the inner panels' tick marks
    _, axh = place_grid(fig, axes, left=left, right=PAD + out, top=top,
                         bottom=PAD + below, wgap=PAD + out + max(out, ytick),
                         hgap=below + PAD + title_room(fig, axes[0][0]))
    ticks = percent_ticks(axes[0][0], "y", lo, hi, axh, 8)
    for i, ax in enumerate(axes.flat[:panels]):
        if i % ncols:
            bare_y_axis(ax, ticks, grid=GRID)
