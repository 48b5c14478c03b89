"""The report's charts: forest plot, trends, breakdowns, safe-cell heat map.

Every function takes a table the library already computed (it computes no statistics),
returns a :class:`matplotlib.figure.Figure` with Chinese titles and axes, and is
deterministic: the same table gives the same picture. Verdict colours are the
Okabe-Ito colour-blind-safe palette, doubled by marker shape; estimates flagged
``review`` are drawn hollow with a dotted interval, those flagged
``suppress`` are not drawn but labelled "数据不足，不予显示" in their place (NCHS
presentation standards: never silently). Figures are made outside pyplot (no global
figure registry to leak in a batch run): show one in a notebook with
``display(image(fig))`` or write it with ``fig.savefig(path)``.

The layout is set in inches from the measured sizes of the few texts that decide it
(longest row label, titles, legend), not by ``tight_layout``: the same margins for a
fraction of the cost, and long names or 100 rows keep them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import TICKLEFT, Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, PercentFormatter

from pingan_eval import labels
from pingan_eval.report.fonts import setup_cjk_font

if TYPE_CHECKING:
    from IPython.display import Image

__all__ = [
    "FLAG_STYLE",
    "FOREST_FULL_ROWS",
    "VERDICT_STYLE",
    "breakdown_plot",
    "forest_plot",
    "image",
    "png_bytes",
    "naming_heatmap",
    "trend_plot",
]

#: Okabe-Ito colours and marker shapes per verdict.
VERDICT_STYLE: dict[str, dict[str, str]] = {
    "met": {"color": "#0072B2", "marker": "o"},
    "not_met": {"color": "#D55E00", "marker": "X"},
    "undecided": {"color": "#E69F00", "marker": "D"},
}
#: Colour of the note written in place of a suppressed estimate.
FLAG_STYLE: dict[str, str] = {"color": "#8C8C8C"}
_BAR_EDGE = "#0072B2"
_TARGET = {"color": "#333333", "linestyle": "--", "linewidth": 1.0}
_TARGET_TREND = {"color": "#000000", "linestyle": "-", "linewidth": 0.9}
_COUNTY_TREND = {"color": "#7F7F7F", "linestyle": (0, (4, 2)), "linewidth": 1.3}
_HIGHLIGHT = "#FFF3C4"
#: The other townships' estimates on one row of a large county's forest plot.
_STRIP = {"linestyle": "", "marker": "|", "markersize": 11, "markeredgewidth": 1.2,
          "color": "#7F7F7F", "alpha": 0.6}
#: Above this many areas, a township's forest plot folds the other townships into a strip.
FOREST_FULL_ROWS = 15
_GRID = "#E5E5E5"
_DPI = 90
#: Inches of white space around a figure's content and between its parts (what
#: ``tight_layout`` leaves by default: 1.08 times a 10 pt font).
_PAD = 0.15
#: Inches between the figure title and the panel titles, and above a figure legend.
_GAP = 0.1


def png_bytes(fig: Figure, dpi: float = _DPI) -> bytes:
    """The figure as PNG bytes, without the software-version metadata (same bytes per run).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> png_bytes(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    # zlib level 3: for these flat-coloured charts a third faster than the default 6,
    # and no larger
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None},
                pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


def image(fig: Figure, dpi: float = _DPI) -> Image:
    """The figure as an :class:`IPython.display.Image` for ``display()`` in a notebook.

    A pyplot-free figure has no notebook representation of its own; this one is a PNG
    (embedded as is in the exported HTML report) whose text form carries no memory
    address, so notebook outputs stay the same from run to run.
    """
    from IPython.display import Image

    return Image(data=png_bytes(fig, dpi), format="png")


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.1f}%"


def _new_figure(nrows: int, ncols: int, width: float, height: float,
                **kw) -> tuple[Figure, np.ndarray]:
    """A figure outside pyplot (nothing to close, no global state), Chinese-capable.

    It has its own Agg canvas: the layout measures text with the renderer that
    :func:`png_bytes` then draws with (same size and dpi, so made once).
    """
    setup_cjk_font()
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    for ax in axes.flat:
        # The charts have no axis labels: fixed label positions spare matplotlib
        # measuring every tick label at each draw to place them.
        ax.xaxis.set_label_coords(0.5, 0.0)
        ax.yaxis.set_label_coords(0.0, 0.5)
    return fig, axes


def _size(fig: Figure, artist) -> tuple[float, float]:
    """Width and height in inches of a text or legend as it will be drawn."""
    box = artist.get_window_extent(fig.canvas.get_renderer())
    return box.width / fig.dpi, box.height / fig.dpi


def _text_size(fig: Figure, text: str, **props) -> tuple[float, float]:
    """Width and height in inches of ``text`` drawn with text properties ``props``."""
    return _size(fig, Text(0, 0, text, figure=fig, **props))


def _widest(fig: Figure, texts: Sequence[str], **props) -> float:
    return max((_text_size(fig, t, **props)[0] for t in texts), default=0.0)


def _tick_room(axis: str) -> float:
    """Inches taken by a tick mark and the gap to its label."""
    return (mpl.rcParams[f"{axis}tick.major.size"] + mpl.rcParams[f"{axis}tick.major.pad"]) / 72


def _title_room(fig: Figure, ax) -> float:
    """Inches above an axes taken by its title (text and pad)."""
    return _size(fig, ax.title)[1] + mpl.rcParams["axes.titlepad"] / 72


def _set_title(ax, text: str) -> None:
    # A fixed y (the axes top, as matplotlib's own placement gives when no tick labels
    # are above) spares a search over every axis's tick labels at each draw.
    ax.set_title(text, fontsize=11, y=1.0)


def _widen_for(fig: Figure, title) -> tuple[float, float]:
    """Widen the figure if ``title`` (a text spanning it) is wider; return its size."""
    width, height = _size(fig, title)
    if width + 2 * _PAD > fig.get_figwidth():  # e.g. a forest plot of one panel
        fig.set_figwidth(width + 2 * _PAD)
    return width, height


def _suptitle(fig: Figure, text: str) -> float:
    """Put the figure title at the top; return the inches it takes, gap below included.

    Call it before anything else is measured: it may widen the figure.
    """
    title = fig.suptitle(text, fontsize=12, y=1 - _PAD / fig.get_figheight(), va="top")
    return _PAD + _widen_for(fig, title)[1] + _GAP


def _figure_legend(fig: Figure, handles: list, ncol: int) -> float:
    """A legend centred at the figure's bottom in at most ``ncol`` columns, fewer if it
    would be wider than the figure; return the inches it takes, gap above included."""
    room = fig.get_figwidth() - 2 * _PAD
    while True:
        legend = fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False,
                            fontsize=9)
        width, height = _size(fig, legend)
        if width <= room or ncol == 1:
            break
        legend.remove()
        ncol = -(-ncol // 2) if ncol > 2 else 1
    return mpl.rcParams["legend.borderaxespad"] * 9 / 72 + height + _GAP


def _place_grid(fig: Figure, axes: np.ndarray, *, left: float, right: float, top: float,
                bottom: float, wgap: float = 0.0, hgap: float = 0.0) -> tuple[float, float]:
    """Lay out the subplot grid with margins and gaps in inches; return one axes' size.

    Instead of ``tight_layout``, which measures every axis of every panel (its tick
    labels included) to find the same margins, each chart computes its margins from
    the few texts that decide them.
    """
    width, height = fig.get_size_inches()
    nrows, ncols = axes.shape
    axw = (width - left - right - (ncols - 1) * wgap) / ncols
    axh = (height - top - bottom - (nrows - 1) * hgap) / nrows
    if axw <= 0 or axh <= 0:
        raise ValueError(f"chart labels leave no room for the panels ({width:.1f} x "
                         f"{height:.1f} in figure)")
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wgap / axw, hspace=hgap / axh)
    return axw, axh


def _percent_ticks(ax, axis: str, lo: float, hi: float, length: float,
                   fontsize: float) -> np.ndarray:
    """Fix the ticks matplotlib's default locator picks for a ``length`` inch axis.

    The default asks the axis for its size at every draw and creates ticks beyond the
    limits too; here the ticks are computed once, by matplotlib's rule: steps of 1, 2,
    2.5 or 5 times a power of ten, at most one tick per 3 (x) or 2 (y) times the label
    font size of axis length.
    """
    per_tick = fontsize * (3 if axis == "x" else 2)
    nbins = int(np.clip(np.floor(length * 72 / per_tick), 1, 9))
    ticks = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    eps = 1e-9 * (hi - lo)
    ticks = ticks[(ticks >= lo - eps) & (ticks <= hi + eps)]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks)
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0,
                                                                                 decimals=0))
    return ticks


def _layout_rows(fig: Figure, axes: np.ndarray, rows: Sequence[str], *, top: float,
                 bottom: float, lo: float, hi: float, label_size: float | str,
                 bold: str | None = None) -> None:
    """Lay out one row of panels that share their rows (labelled at the left of the
    first panel) and a percent x axis from ``lo`` to ``hi``; ``top`` and ``bottom``
    are the inches taken by the figure title and legend."""
    tick_w, tick_h = _text_size(fig, "100%", fontsize=8)
    label_w = max(_text_size(fig, r, fontsize=label_size,
                             fontweight="bold" if r == bold else "normal")[0] for r in rows)
    # the end tick labels ("100%") may stick out of a panel by half their width
    axw, _ = _place_grid(fig, axes, left=_PAD + label_w + _tick_room("y"),
                         right=_PAD + tick_w / 2, top=top + _title_room(fig, axes[0][0]),
                         bottom=bottom + tick_h + _tick_room("x"), wgap=tick_w + _PAD)
    _percent_ticks(axes[0][0], "x", lo, hi, axw, 8)
    for ax in axes[0][1:]:
        _bare_y_axis(ax, np.arange(len(rows)))


def _bare_y_axis(ax, ticks: np.ndarray, grid: str | None = None) -> None:
    """Draw the y axis of an inner panel (tick marks at ``ticks``, no labels; grid lines
    of colour ``grid``) as one or two lines instead of matplotlib's y axis.

    The picture is the same, but matplotlib makes and draws several objects per tick:
    its inner y axes took about 8 % of the CPU time of a township report's charts.
    """
    ax.yaxis.set_visible(False)
    on_y = ax.get_yaxis_transform()  # x in axes fractions, y in data
    if grid is not None:
        ax.plot(np.tile([0.0, 1.0, np.nan], len(ticks)), np.repeat(ticks, 3), color=grid,
                linewidth=mpl.rcParams["grid.linewidth"], linestyle=mpl.rcParams["grid.linestyle"],
                alpha=mpl.rcParams["grid.alpha"], transform=on_y, zorder=1.5)
    ax.plot(np.zeros(len(ticks)), ticks, linestyle="", marker=TICKLEFT,
            markersize=mpl.rcParams["ytick.major.size"],
            markeredgewidth=mpl.rcParams["ytick.major.width"],
            color=mpl.rcParams["ytick.color"], transform=on_y, clip_on=False, zorder=1.5)


def _limits(low: pd.Series, target: float, floor: float = 0.0) -> tuple[float, float]:
    """x (or y) limits from the lowest interval bound and the target, in steps of 5 %."""
    lows = low[np.isfinite(low)]
    lo = min(lows.min() if len(lows) else target, target)
    return max(floor, np.floor(lo * 20 - 0.5) / 20), 1.012


def _indicator_order(table: pd.DataFrame, indicators: Sequence[str] | None) -> list[str]:
    codes = list(dict.fromkeys(table["indicator"]))
    return codes if indicators is None else [c for c in indicators if c in codes]


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
        handles.append(Line2D([], [], label=f"目标 {target:.0%}", **_TARGET))
    return handles


def forest_plot(summary: pd.DataFrame, area: str, *, period: str | None = None,
                indicators: Sequence[str] | None = None) -> Figure:
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

    Returns
    -------
    matplotlib.figure.Figure
        One panel per indicator; one row per area (county first, table order), the
        target as a dashed line. Colour and shape give the verdict; flagged estimates
        are hollow with a dotted interval (``review``) or replaced by a note
        (``suppress``). For a township of a county with more than
        :data:`FOREST_FULL_ROWS` areas the other townships share one row, as grey
        ticks at their estimates (suppressed ones left out), so the township's own row
        stays readable; the county overview always lists every township.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"period": "2026-11", "area": ["青河县", "青河镇"],
    ...     "area_level": ["county", "township"], "indicator": "awareness",
    ...     "name_zh": "知晓率", "source": "survey", "estimate": [0.97, 0.98],
    ...     "ci_low": [0.96, 0.95], "ci_high": [0.98, 0.99], "target": 0.95,
    ...     "verdict": ["met", "undecided"], "flag": "ok", "flag_reason": ""})
    >>> fig = forest_plot(t, "青河镇")
    >>> [ax.get_title() for ax in fig.axes]
    ['知晓率']
    """
    survey = summary[summary["source"] == "survey"]
    codes = _indicator_order(survey, indicators)
    if not codes:
        raise ValueError("forest_plot: the summary has no survey rows")
    areas = list(dict.fromkeys(survey["area"]))
    period = period or str(survey["period"].iloc[0])
    is_county = (survey.loc[survey["area"] == area, "area_level"] == "county").any()
    counties = list(dict.fromkeys(survey.loc[survey["area_level"] == "county", "area"]))
    others = [a for a in areas if a != area and a not in counties]
    # A township of a large county: its own and the county's rows, the others as a strip
    # of points (a hundred labelled rows in every township report would bury it).
    strip = None
    if not is_county and area in areas and len(areas) > FOREST_FULL_ROWS:
        strip = f"其他{len(others)}个乡镇"
        rows_shown = [*counties, area, strip]
    else:
        rows_shown = areas
    fig, axes = _new_figure(1, len(codes), 2.3 * len(codes) + 1.6,
                            0.42 * len(rows_shown) + 1.9, sharey=True, sharex=True)
    y = {a: i for i, a in enumerate(rows_shown)}
    lo, hi = _limits(survey.loc[survey["flag"] != "suppress", "ci_low"],
                     float(survey["target"].min()))
    for ax, code in zip(axes[0], codes, strict=True):
        rows = survey[survey["indicator"] == code]
        if area in y:
            ax.axhspan(y[area] - 0.45, y[area] + 0.45, color=_HIGHLIGHT, zorder=0)
        labelled = rows[rows["area"].isin(list(y))]
        _intervals(ax, labelled, np.array([y[a] for a in labelled["area"]], dtype=float), lo)
        if strip is not None:
            rest = rows[rows["area"].isin(others) & (rows["flag"] != "suppress")]
            ax.plot(rest["estimate"], np.full(len(rest), float(y[strip])), **_STRIP)
        ax.axvline(float(rows["target"].iloc[0]), **_TARGET, zorder=1)
        _set_title(ax, str(rows["name_zh"].iloc[0]))
        ax.set_xlim(lo, hi)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", color=_GRID, zorder=0)
    ax0 = axes[0][0]
    ax0.set_yticks(range(len(rows_shown)), rows_shown)
    ax0.set_ylim(len(rows_shown) - 0.5, -0.5)
    for tick in ax0.get_yticklabels():
        if tick.get_text() == area:
            tick.set_fontweight("bold")
    heading = f"{area}与各乡镇" if is_county else f"{area}与全县、其他乡镇"
    shown = survey[survey["indicator"].isin(codes)]
    handles = _legend_handles(shown[shown["area"].isin(list(y))],
                              float(survey["target"].iloc[0]))
    if strip is not None:
        handles.insert(-1, Line2D([], [], label="其他乡镇估计值（不含区间）", **_STRIP))
    top = _suptitle(fig, f"{heading}比较：估计值及95%置信区间（{period}）")
    bottom = _figure_legend(fig, handles, ncol=6)
    _layout_rows(fig, axes, rows_shown, top=top, bottom=bottom, lo=lo, hi=hi,
                 label_size=mpl.rcParams["ytick.labelsize"], bold=area)
    return fig


def _intervals(ax, rows: pd.DataFrame, y: np.ndarray, lo: float) -> None:
    """Estimates with their intervals at rows ``y``, styled by verdict and flag.

    One artist per style, not per row: a county of 100 townships draws 5 x 100 rows.
    """
    estimate = rows["estimate"].to_numpy(dtype=float)
    hidden = rows["flag"].eq("suppress").to_numpy() | ~np.isfinite(estimate)
    for yy in y[hidden]:
        ax.text(lo, yy, " " + labels.SUPPRESSED, va="center", ha="left", fontsize=7,
                color=FLAG_STYLE["color"])
    verdict = rows["verdict"].where(rows["verdict"].isin(list(VERDICT_STYLE)), "undecided")
    review = rows["flag"].eq("review").to_numpy()
    for v, style in VERDICT_STYLE.items():
        for dotted in (False, True):
            pick = ~hidden & verdict.eq(v).to_numpy() & (review == dotted)
            if not pick.any():
                continue
            # hlines' segments each start their dot pattern, as one line per row did
            ax.hlines(y[pick], rows["ci_low"].to_numpy(dtype=float)[pick],
                      rows["ci_high"].to_numpy(dtype=float)[pick], colors=style["color"],
                      linestyles=":" if dotted else "-", linewidth=1.8 if dotted else 2.2,
                      capstyle="butt" if dotted else "projecting", zorder=2)
            ax.plot(estimate[pick], y[pick], linestyle="", marker=style["marker"],
                    markersize=7, color=style["color"], markeredgewidth=1.6, zorder=3,
                    markerfacecolor="white" if dotted else style["color"])


def _month_label(period: str, first: bool) -> str:
    p = pd.Period(period, freq="M")
    return f"{p.month}月\n{p.year}" if first or p.month == 1 else f"{p.month}月"


def trend_plot(trend: pd.DataFrame, area: str, *, county: str | None = None,
               indicators: Sequence[str] | None = None) -> Figure:
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
    codes = _indicator_order(trend, indicators)
    if not codes:
        raise ValueError("trend_plot: the trend table is empty")
    if county is None:
        counties = trend.loc[trend["area_level"] == "county", "area"]
        county = str(counties.iloc[0]) if len(counties) else None
    county = None if county == area else county
    periods = sorted(trend["period"].astype(str).unique())
    x = {p: i for i, p in enumerate(periods)}
    ncols = min(3, len(codes))
    nrows = -(-(len(codes) + 1) // ncols)
    fig, axes = _new_figure(nrows, ncols, 4.0 * ncols, 2.7 * nrows + 0.6,
                            sharex=True, sharey=True)
    own = trend[(trend["area"] == area) & (trend["flag"] != "suppress")]
    lo, hi = _limits(own["ci_low"], float(trend["target"].min()))
    flat = list(axes.ravel())
    for ax, code in zip(flat, codes, strict=False):
        rows = trend[(trend["area"] == area) & (trend["indicator"] == code)]
        rows = rows.set_index(rows["period"].astype(str)).reindex(periods)
        shown = rows["flag"].ne("suppress") & rows["estimate"].notna()
        est = rows["estimate"].where(shown)
        xs = np.arange(len(periods))
        ax.fill_between(xs, rows["ci_low"].where(shown), rows["ci_high"].where(shown),
                        color=VERDICT_STYLE["met"]["color"], alpha=0.18, linewidth=0)
        ax.plot(xs, est, color=VERDICT_STYLE["met"]["color"], linewidth=1.8)
        ok = shown & rows["flag"].eq("ok")
        ax.plot(xs[ok.to_numpy()], est[ok], "o", color=VERDICT_STYLE["met"]["color"],
                markersize=4)
        review = shown & rows["flag"].eq("review")
        ax.plot(xs[review.to_numpy()], est[review], "o", color=VERDICT_STYLE["met"]["color"],
                markerfacecolor="white", markersize=5)
        for i in np.flatnonzero(~shown.to_numpy() & rows["area"].notna().to_numpy()):
            ax.text(i, lo + 0.01, "×", ha="center", va="bottom", color=FLAG_STYLE["color"])
        if county is not None:
            c = trend[(trend["area"] == county) & (trend["indicator"] == code)]
            ax.plot([x[p] for p in c["period"].astype(str)], c["estimate"], **_COUNTY_TREND)
        target = trend.loc[trend["indicator"] == code, "target"]
        ax.axhline(float(target.iloc[0]), **_TARGET_TREND)
        _set_title(ax, str(trend.loc[trend["indicator"] == code, "name_zh"].iloc[0]))
        ax.set_ylim(lo, hi)
        ax.grid(axis="y", color=_GRID)
        ax.tick_params(labelsize=8)
    months = [_month_label(p, i == 0) for i, p in enumerate(periods)]
    margin = mpl.rcParams["axes.xmargin"] * (len(periods) - 1) or 0.5
    flat[0].set_xlim(-margin, len(periods) - 1 + margin)  # the panels share x and y
    flat[0].set_xticks(range(len(periods)), months)
    for ax in flat:
        ax.tick_params(axis="x", labelbottom=True)
    legend_ax = flat[len(codes)]
    legend_ax.axis("off")
    handles = [Line2D([], [], color=VERDICT_STYLE["met"]["color"], marker="o",
                      markersize=4, linewidth=1.8, label=f"{area}估计值"),
               Patch(color=VERDICT_STYLE["met"]["color"], alpha=0.18, label="95%置信区间"),
               Line2D([], [], label="目标", **_TARGET_TREND)]
    if county is not None:
        handles.insert(2, Line2D([], [], label=f"{county}（全县）", **_COUNTY_TREND))
    if (trend.loc[trend["area"] == area, "flag"] == "review").any():
        handles.append(Line2D([], [], linestyle="", marker="o", markerfacecolor="white",
                              color=VERDICT_STYLE["met"]["color"],
                              label=f"空心：{labels.FLAGS['review']}"))
    if (trend.loc[trend["area"] == area, "flag"] == "suppress").any():
        handles.append(Line2D([], [], linestyle="", marker="$×$", color=FLAG_STYLE["color"],
                              label=labels.SUPPRESSED))
    legend_ax.legend(handles=handles, loc="center", frameon=False, fontsize=10)
    for ax in flat[len(codes) + 1:]:
        ax.axis("off")
    top = _suptitle(fig, f"{area}：近{len(periods)}个月走势（阴影为95%置信区间）")
    _layout_trend(fig, axes, len(codes), months, margin,
                  top=top + _title_room(fig, flat[0]), lo=lo, hi=hi)
    return fig


def _layout_trend(fig: Figure, axes: np.ndarray, panels: int, months: list[str],
                  margin: float, *, top: float, lo: float, hi: float) -> None:
    """Lay out the trend panels (the first ``panels`` of ``axes``, row by row): each
    has its titled, month-labelled x axis; the first column has the percent y axis;
    ``margin`` is the x padding in months."""
    month_w = max(_text_size(fig, m, fontsize=8)[0] for m in (months[0], months[-1]))
    month_h = max(_text_size(fig, m, fontsize=8)[1] for m in months)
    below = month_h + _tick_room("x")
    left = _PAD + _text_size(fig, "100%", fontsize=8)[0] + _tick_room("y")
    width = fig.get_figwidth()
    ncols = axes.shape[1]
    # end month labels stick out of a panel when the x padding is narrower than half
    # of them (measured on the narrowest panels they could get)
    narrowest = (width - left - (_PAD + month_w / 2) - (ncols - 1) * (_PAD + month_w)) / ncols
    span = len(months) - 1 + 2 * margin
    out = max(0.0, month_w / 2 - margin / span * max(narrowest, 0.0))
    ytick = mpl.rcParams["ytick.major.size"] / 72  # the inner panels' tick marks
    _, axh = _place_grid(fig, axes, left=left, right=_PAD + out, top=top,
                         bottom=_PAD + below, wgap=_PAD + out + max(out, ytick),
                         hgap=below + _PAD + _title_room(fig, axes[0][0]))
    ticks = _percent_ticks(axes[0][0], "y", lo, hi, axh, 8)
    for i, ax in enumerate(axes.flat[:panels]):
        if i % ncols:
            _bare_y_axis(ax, ticks, grid=_GRID)


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
    >>> any(t.get_text() == " 数据不足，不予显示" for t in fig.axes[0].texts)
    True
    """
    codes = _indicator_order(table, indicators)
    if not codes:
        raise ValueError("breakdown_plot: the table is empty")
    levels = list(dict.fromkeys(table["level"].astype(str)))
    fig, axes = _new_figure(1, len(codes), 2.2 * len(codes) + 1.4, 0.36 * len(levels) + 1.8,
                            sharey=True, sharex=True)
    y = {lv: i for i, lv in enumerate(levels)}
    shown = table[table["flag"] != "suppress"]
    lo, hi = _limits(shown["ci_low"], float(table["target"].min()))
    for ax, code in zip(axes[0], codes, strict=True):
        rows = table[table["indicator"] == code]
        _whiskers(ax, rows, np.array([y[lv] for lv in rows["level"].astype(str)], dtype=float),
                  lo)
        ax.axvline(float(rows["target"].iloc[0]), **_TARGET)
        _set_title(ax, str(rows["name_zh"].iloc[0]))
        ax.set_xlim(lo, hi)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", color=_GRID)
    axes[0][0].set_yticks(range(len(levels)), levels)
    axes[0][0].set_ylim(len(levels) - 0.5, -0.5)
    handles = [Line2D([0, 1], [0, 0], color=_BAR_EDGE, marker="o", markersize=6,
                      label="估计值与95%置信区间"),
               Line2D([], [], label=f"目标 {float(table['target'].iloc[0]):.0%}", **_TARGET)]
    if (table["flag"] == "review").any():
        handles.append(Line2D([0, 1], [0, 0], color=_BAR_EDGE, marker="o", markersize=6,
                              markerfacecolor="white", linestyle=":",
                              label=f"空心、虚线：{labels.FLAGS['review']}"))
    if (table["flag"] == "suppress").any():
        handles.append(Line2D([], [], linestyle="",
                              label=f"{labels.SUPPRESSED}：样本过少或区间过宽"))
    top = _suptitle(fig, title)
    bottom = _figure_legend(fig, handles, ncol=4)
    _layout_rows(fig, axes, levels, top=top, bottom=bottom, lo=lo, hi=hi, label_size=8)
    return fig


def _whiskers(ax, rows: pd.DataFrame, y: np.ndarray, lo: float) -> None:
    """Estimates with interval whiskers at rows ``y``: one errorbar for the ``ok`` and
    one (hollow, dotted) for the ``review`` rows, a note for each suppressed row."""
    estimate = rows["estimate"].to_numpy(dtype=float)
    hidden = rows["flag"].eq("suppress").to_numpy() | ~np.isfinite(estimate)
    for yy in y[hidden]:
        ax.text(lo, yy, " " + labels.SUPPRESSED, va="center", ha="left", fontsize=7,
                color=FLAG_STYLE["color"])
    review = rows["flag"].eq("review").to_numpy()
    low = rows["ci_low"].to_numpy(dtype=float)
    high = rows["ci_high"].to_numpy(dtype=float)
    for dotted in (False, True):
        pick = ~hidden & (review == dotted)
        if not pick.any():
            continue
        bars = ax.errorbar(estimate[pick], y[pick],
                           xerr=[estimate[pick] - low[pick], high[pick] - estimate[pick]],
                           fmt="o", color=_BAR_EDGE, markersize=6, capsize=3, elinewidth=1.4,
                           markerfacecolor="white" if dotted else _BAR_EDGE)
        if dotted:
            bars.lines[2][0].set_linestyle(":")


def naming_heatmap(summary: pd.DataFrame, *, period: str | None = None) -> Figure:
    """Township x category heat map of safe-cell naming rates, values written in.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output; its ``source == "register"``
        township rows are drawn (``estimate`` is the naming rate).
    period : str, optional
        Shown in the title; default the table's period.

    Returns
    -------
    matplotlib.figure.Figure
        Rows: townships (table order); columns: categories (table order); cell colour
        (80 % and below: the darkest) and text: the rate; a vermillion frame marks a
        rate below its target; "—" a category with no eligible units.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"period": "2026-11", "area": ["青河镇", "阿热勒乡"],
    ...     "area_level": "township", "source": "register", "indicator": "cell_family",
    ...     "name_zh": "优秀平安家庭", "estimate": [0.96, 0.90], "target": 0.95,
    ...     "verdict": ["met", "not_met"]})
    >>> fig = naming_heatmap(t)
    >>> sorted(t.get_text() for t in fig.axes[0].texts)
    ['90.0%', '96.0%']
    """
    cells = summary[(summary["source"] == "register") & (summary["area_level"] == "township")]
    if cells.empty:
        raise ValueError("naming_heatmap: the summary has no safe-cell register rows")
    period = period or str(cells["period"].iloc[0])
    towns = list(dict.fromkeys(cells["area"]))
    cats = list(dict.fromkeys(cells["indicator"]))
    names = dict(zip(cells["indicator"], cells["name_zh"], strict=False))
    grid = (cells.pivot_table(index="area", columns="indicator", values="estimate",
                              aggfunc="first", dropna=False)
            .reindex(index=towns, columns=cats))
    below = (cells.assign(b=cells["estimate"] < cells["target"])
             .pivot_table(index="area", columns="indicator", values="b", aggfunc="first")
             .reindex(index=towns, columns=cats).fillna(False).astype(bool).to_numpy())
    fig, axes = _new_figure(1, 1, 0.78 * len(cats) + 2.4, 0.5 * len(towns) + 2.6)
    ax = axes[0][0]
    values = grid.to_numpy(dtype=float)
    vmin = 0.8  # below 80 % every rate gets the darkest colour; the number says the rest
    cmap = colormaps["cividis"].with_extremes(bad="#EEEEEE")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=1.0,
                      aspect="auto")
    for i in range(len(towns)):
        for j in range(len(cats)):
            v = values[i, j]
            dark = np.isfinite(v) and (v - vmin) / (1.0 - vmin) < 0.55
            ax.text(j, i, "100%" if v == 1 else _pct(v), ha="center", va="center",
                    fontsize=8.5, color="white" if dark else "black")
            if below[i, j]:
                ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False,
                                       edgecolor=VERDICT_STYLE["not_met"]["color"],
                                       linewidth=2.5))
    xlabels = {"rotation": 40, "ha": "right", "fontsize": 9}
    ax.set_xticks(range(len(cats)), [names[c] for c in cats], **xlabels)
    ax.set_yticks(range(len(towns)), towns, fontsize=9)
    _set_title(ax, f"各乡镇平安细胞命名率（截至{period}；红框：低于目标，—：无应创建单位）")
    # the layout: town names at the left, slanted category names below (each ends
    # under its column, so the first may reach left of the map), the colour bar at the
    # right, vertically centred and at most 20 times as tall as wide
    bar_w, bar_pad = 0.25, 0.2
    slanted = [_text_size(fig, names[c], **xlabels) for c in cats]
    right = (_PAD + bar_pad + bar_w + _tick_room("y")
             + _text_size(fig, "100%", fontsize=mpl.rcParams["ytick.labelsize"])[0])
    left = _widest(fig, towns, fontsize=9) + _tick_room("y")
    cell = (fig.get_figwidth() - _PAD - left - right) / len(cats)
    left = _PAD + max(left, slanted[0][0] - cell / 2)
    title_w = _size(fig, ax.title)[0]
    if fig.get_figwidth() - left - right < title_w:  # few categories: widen for the title
        fig.set_figwidth(left + right + title_w)
    bottom = _PAD + _tick_room("x") + max(h for _, h in slanted)
    axw, axh = _place_grid(fig, axes, left=left, right=right, bottom=bottom,
                           top=_PAD + _title_room(fig, ax))
    bar_h = min(axh, 20 * bar_w)
    cax = fig.add_axes(((left + axw + bar_pad) / fig.get_figwidth(),
                        (bottom + (axh - bar_h) / 2) / fig.get_figheight(),
                        bar_w / fig.get_figwidth(), bar_h / fig.get_figheight()))
    colorbar = fig.colorbar(image, cax=cax, extend="min", ticks=np.linspace(vmin, 1.0, 5))
    colorbar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return fig
