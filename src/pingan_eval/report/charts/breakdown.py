"""The breakdown chart: estimates with 95 % interval whiskers for the groups of one
breakdown (village, sex, age group, ethnicity).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from pingan_eval import labels
from pingan_eval.report.charts.layout import (
    FLAG_STYLE,
    GRID,
    TARGET,
    figure_legend,
    indicator_order,
    limits,
    new_figure,
    panel_row,
    short_name,
    short_title,
    suptitle,
)

_BAR_EDGE = "#0072B2"


def breakdown_plot(table: pd.DataFrame, *, title: str,
                   indicators: Sequence[str] | None = None) -> Figure:
    """Estimates with 95 % interval whiskers for the groups of one breakdown.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`pingan_eval.report.tables.breakdowns` for one breakdown variable:
        ``level, indicator, name_zh, estimate, ci_low, ci_high, target, flag``.
    title : str
        Figure title, e.g. ``"青河镇：按性别"``.
    indicators : sequence of str, optional
        Indicator codes, in order; default every one in the table.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per indicator, one row per group (table order): a point at the
        estimate with its interval as whiskers, the target as a dashed line. The axis
        starts near the lowest interval bound (not at 0: the estimates sit close to
        100 %, and bars from 0 would hide every difference). ``review`` estimates are
        hollow with dotted whiskers; ``suppress`` groups keep their row, with
        "数据不足，不予显示" instead of a point.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"level": ["男", "女"], "indicator": "awareness",
    ...     "name_zh": "知晓率", "estimate": [0.97, float("nan")],
    ...     "ci_low": [0.95, float("nan")], "ci_high": [0.98, float("nan")],
    ...     "target": 0.95, "flag": ["ok", "suppress"]})
    >>> fig = breakdown_plot(t, title="青河镇：按性别")
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['知晓率', ' 数据不足，不予显示']
    """
    codes = indicator_order(table, indicators)
    if not codes:
        raise ValueError("breakdown_plot: the table is empty")
    levels = list(dict.fromkeys(table["level"].astype(str)))
    fig, axes = new_figure(1, 1, 2.2 * len(codes) + 1.4, 0.36 * len(levels) + 1.8)
    ax = axes[0][0]
    shown = table[table["flag"] != "suppress"]
    lo, hi = limits(shown["ci_low"], float(table["target"].min()))
    handles = [Line2D([0, 1], [0, 0], color=_BAR_EDGE, marker="o", markersize=6,
                      label="估计值与95%置信区间"),
               Line2D([], [], label=f"目标 {float(table['target'].iloc[0]):.0%}", **TARGET)]
    if (table["flag"] == "review").any():
        handles.append(Line2D([0, 1], [0, 0], color=_BAR_EDGE, marker="o", markersize=6,
                              markerfacecolor="white", linestyle=":",
                              label=f"空心、虚线：{labels.FLAGS['review']}"))
    if (table["flag"] == "suppress").any():
        handles.append(Line2D([], [], linestyle="",
                              label=f"{labels.SUPPRESSED}：样本过少或区间过宽"))
    top = suptitle(fig, short_title(title))
    bottom = figure_legend(fig, handles, ncol=4)
    by_code = {code: rows for code, rows in table.groupby("indicator", sort=False)}
    titles = [str(by_code[code]["name_zh"].iloc[0]) for code in codes]
    offsets = panel_row(fig, ax, titles, [short_name(lv) for lv in levels], top=top,
                        bottom=bottom, lo=lo, hi=hi, label_size=8)
    ax.grid(axis="x", color=GRID)
    y = {lv: i for i, lv in enumerate(levels)}
    rows = pd.concat([by_code[code].assign(_offset=off)
                      for code, off in zip(codes, offsets, strict=True)])
    _whiskers(ax, rows, np.array([y[lv] for lv in rows["level"].astype(str)], dtype=float),
              lo)
    for code, off in zip(codes, offsets, strict=True):
        ax.axvline(float(by_code[code]["target"].iloc[0]) + off, **TARGET)
    return fig


def _whiskers(ax, rows: pd.DataFrame, y: np.ndarray, lo: float) -> None:
    """Estimates with interval whiskers at rows ``y``, x shifted by each row's panel
    ``_offset``: one errorbar for the ``ok`` and one (hollow, dotted) for the ``review``
    rows, a note at its panel's left edge (``lo``) for each suppressed row."""
    offset = rows["_offset"].to_numpy(dtype=float)
    estimate = rows["estimate"].to_numpy(dtype=float)
    hidden = rows["flag"].eq("suppress").to_numpy() | ~np.isfinite(estimate)
    for xx, yy in zip(lo + offset[hidden], y[hidden], strict=True):
        ax.text(xx, yy, " " + labels.SUPPRESSED, va="center", ha="left", fontsize=7,
                color=FLAG_STYLE["color"])
    review = rows["flag"].eq("review").to_numpy()
    low = rows["ci_low"].to_numpy(dtype=float)
    high = rows["ci_high"].to_numpy(dtype=float)
    for dotted in (False, True):
        pick = ~hidden & (review == dotted)
        if not pick.any():
            continue
        # an estimate outside its interval (a table made elsewhere; fay_herriot widens
        # its own) draws no whisker on that side: matplotlib refuses a negative one
        below = np.maximum(estimate[pick] - low[pick], 0.0)
        above = np.maximum(high[pick] - estimate[pick], 0.0)
        bars = ax.errorbar(estimate[pick] + offset[pick], y[pick], xerr=[below, above],
                           fmt="o", color=_BAR_EDGE, markersize=6, capsize=3, elinewidth=1.4,
                           markerfacecolor="white" if dotted else _BAR_EDGE)
        if dotted:
            bars.lines[2][0].set_linestyle(":")
