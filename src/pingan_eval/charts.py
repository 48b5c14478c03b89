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
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import PercentFormatter

from . import labels
from .fonts import setup_cjk_font

if TYPE_CHECKING:
    from IPython.display import Image

__all__ = [
    "FLAG_STYLE",
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
_DPI = 90


def png_bytes(fig: Figure, dpi: float = _DPI) -> bytes:
    """The figure as PNG bytes, without the software-version metadata (same bytes per run).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> png_bytes(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
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
    """A figure outside pyplot (nothing to close, no global state), Chinese-capable."""
    setup_cjk_font()
    fig = Figure(figsize=(width, height), dpi=_DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


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
        (``suppress``).

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
    fig, axes = _new_figure(1, len(codes), 2.3 * len(codes) + 1.6, 0.42 * len(areas) + 1.9,
                            sharey=True, sharex=True)
    y = {a: i for i, a in enumerate(areas)}
    lo, hi = _limits(survey.loc[survey["flag"] != "suppress", "ci_low"],
                     float(survey["target"].min()))
    for ax, code in zip(axes[0], codes, strict=True):
        rows = survey[survey["indicator"] == code]
        if area in y:
            ax.axhspan(y[area] - 0.45, y[area] + 0.45, color=_HIGHLIGHT, zorder=0)
        for r in rows.itertuples():
            _interval(ax, r, y[r.area], lo)
        ax.axvline(float(rows["target"].iloc[0]), **_TARGET, zorder=1)
        ax.set_title(str(rows["name_zh"].iloc[0]), fontsize=11)
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", color="#E5E5E5", zorder=0)
    ax0 = axes[0][0]
    ax0.set_yticks(range(len(areas)), areas)
    ax0.set_ylim(len(areas) - 0.5, -0.5)
    for tick in ax0.get_yticklabels():
        if tick.get_text() == area:
            tick.set_fontweight("bold")
    is_county = (survey.loc[survey["area"] == area, "area_level"] == "county").any()
    heading = f"{area}与各乡镇" if is_county else f"{area}与全县、其他乡镇"
    fig.suptitle(f"{heading}比较：估计值及95%置信区间（{period}）", fontsize=12)
    fig.legend(handles=_legend_handles(survey[survey["indicator"].isin(codes)],
                                       float(survey["target"].iloc[0])),
               loc="lower center", ncol=6, frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def _interval(ax, r, y: float, lo: float) -> None:
    """One estimate with its interval, styled by verdict and flag."""
    if r.flag == "suppress" or not np.isfinite(r.estimate):
        ax.text(lo, y, " " + labels.SUPPRESSED, va="center", ha="left", fontsize=7,
                color=FLAG_STYLE["color"])
        return
    style = VERDICT_STYLE.get(r.verdict, VERDICT_STYLE["undecided"])
    review = r.flag == "review"
    ax.plot([r.ci_low, r.ci_high], [y, y], color=style["color"], zorder=2,
            linestyle=":" if review else "-", linewidth=1.8 if review else 2.2)
    ax.plot(r.estimate, y, marker=style["marker"], markersize=7, color=style["color"],
            markerfacecolor="white" if review else style["color"], markeredgewidth=1.6,
            zorder=3)


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
        ax.set_title(str(trend.loc[trend["indicator"] == code, "name_zh"].iloc[0]),
                     fontsize=11)
        ax.set_ylim(lo, hi)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(axis="y", color="#E5E5E5")
        ax.tick_params(labelsize=8)
    for ax in flat:
        ax.set_xticks(range(len(periods)),
                      [_month_label(p, i == 0) for i, p in enumerate(periods)])
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
    fig.suptitle(f"{area}：近{len(periods)}个月走势（阴影为95%置信区间）", fontsize=12)
    fig.tight_layout()
    return fig


def breakdown_plot(table: pd.DataFrame, *, title: str,
                   indicators: Sequence[str] | None = None) -> Figure:
    """Estimates with 95 % interval whiskers for the groups of one breakdown.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`pingan_eval.report.breakdowns` for one breakdown variable:
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
        for r in rows.itertuples():
            yy = y[str(r.level)]
            if r.flag == "suppress" or not np.isfinite(r.estimate):
                ax.text(lo, yy, " " + labels.SUPPRESSED, va="center", ha="left", fontsize=7,
                        color=FLAG_STYLE["color"])
                continue
            review = r.flag == "review"
            bars = ax.errorbar(r.estimate, yy,
                               xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]],
                               fmt="o", color=_BAR_EDGE, markersize=6, capsize=3,
                               elinewidth=1.4, markerfacecolor="white" if review else _BAR_EDGE)
            if review:
                bars.lines[2][0].set_linestyle(":")
        ax.axvline(float(rows["target"].iloc[0]), **_TARGET)
        ax.set_title(str(rows["name_zh"].iloc[0]), fontsize=11)
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", color="#E5E5E5")
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
    fig.suptitle(title, fontsize=12)
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.1 if len(levels) < 6 else 0.06, 1, 1))
    return fig


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
             .reindex(index=towns, columns=cats).fillna(False).astype(bool))
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
            if below.iloc[i, j]:
                ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False,
                                       edgecolor=VERDICT_STYLE["not_met"]["color"],
                                       linewidth=2.5))
    ax.set_xticks(range(len(cats)), [names[c] for c in cats], rotation=40, ha="right",
                  fontsize=9)
    ax.set_yticks(range(len(towns)), towns, fontsize=9)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, extend="min",
                            ticks=np.linspace(vmin, 1.0, 5))
    colorbar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(f"各乡镇平安细胞命名率（截至{period}；红框：低于目标，—：无应创建单位）",
                 fontsize=11)
    fig.tight_layout()
    return fig
