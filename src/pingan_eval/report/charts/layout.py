"""The charts' shared layout and styles: verdict colours, figures outside pyplot, margins.

The layout is set in inches from the measured sizes of the few texts that decide it
(longest row label, titles, legend), not by ``tight_layout``: the same margins for a
fraction of the cost, and long names or 100 rows keep them. :func:`png_bytes` and
:func:`image` turn a figure into the same PNG bytes from run to run.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import TICKLEFT
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.transforms import offset_copy

from pingan_eval.report.fonts import setup_cjk_font

if TYPE_CHECKING:
    from IPython.display import Image

#: Okabe-Ito colours and marker shapes per verdict.
VERDICT_STYLE: dict[str, dict[str, str]] = {
    "met": {"color": "#0072B2", "marker": "o"},
    "not_met": {"color": "#D55E00", "marker": "X"},
    "undecided": {"color": "#E69F00", "marker": "D"},
}
#: Colour of the note written in place of a suppressed estimate.
FLAG_STYLE: dict[str, str] = {"color": "#8C8C8C"}
TARGET = {"color": "#333333", "linestyle": "--", "linewidth": 1.0}
GRID = "#E5E5E5"
_DPI = 90
#: Inches of white space around a figure's content and between its parts (what
#: ``tight_layout`` leaves by default: 1.08 times a 10 pt font).
PAD = 0.15
#: Inches between the figure title and the panel titles, and above a figure legend.
_GAP = 0.1
#: Characters of a name (township, village) a chart shows; a longer one is shortened
#: with "…" (see :func:`short_name`), so that no name can squeeze the panels out.
NAME_CHARS = 20
#: Characters of a chart title given by the caller (see :func:`short_title`).
TITLE_CHARS = 48


def short_name(name: object, limit: int = NAME_CHARS) -> str:
    r"""A name as a chart shows it: on one line, at most ``limit`` characters, ``$``
    escaped (matplotlib would read ``$...$`` as a formula, and fail on a bad one).

    Examples
    --------
    >>> short_name("青河镇"), short_name("甲" * 30), short_name("a\nb $x$")
    ('青河镇', '甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲…', 'a b \\$x\\$')
    """
    return _cut(name, limit).replace("$", "\\$")


def _cut(text: object, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def short_title(title: object, limit: int = TITLE_CHARS) -> str:
    """A caller's title (``"<name>：<what>"``) bounded: the name part first, then the
    whole, so that ``"<a very long name>：按村"`` keeps its ``：按村``.

    Examples
    --------
    >>> short_title("青河镇：按村"), short_title("甲" * 60 + "：按村", 30)
    ('青河镇：按村', '甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲甲…：按村')
    """
    text = " ".join(str(title).split())
    if len(text) > limit and "：" in text:
        head, rest = text.split("：", 1)
        text = f"{_cut(head, NAME_CHARS)}：{rest}"
    return _cut(text, limit).replace("$", "\\$")


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


def new_figure(nrows: int, ncols: int, width: float, height: float,
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


def size(fig: Figure, artist) -> tuple[float, float]:
    """Width and height in inches of a text or legend as it will be drawn."""
    box = artist.get_window_extent(fig.canvas.get_renderer())
    return box.width / fig.dpi, box.height / fig.dpi


def text_size(fig: Figure, text: str, **props) -> tuple[float, float]:
    """Width and height in inches of ``text`` drawn with text properties ``props``."""
    return size(fig, Text(0, 0, text, figure=fig, **props))


def widest(fig: Figure, texts: Sequence[str], **props) -> float:
    return max((text_size(fig, t, **props)[0] for t in texts), default=0.0)


def tick_room(axis: str) -> float:
    """Inches taken by a tick mark and the gap to its label."""
    return (mpl.rcParams[f"{axis}tick.major.size"] + mpl.rcParams[f"{axis}tick.major.pad"]) / 72


def title_room(fig: Figure, ax) -> float:
    """Inches above an axes taken by its title (text and pad)."""
    return size(fig, ax.title)[1] + mpl.rcParams["axes.titlepad"] / 72


def set_title(ax, text: str) -> None:
    # A fixed y (the axes top, as matplotlib's own placement gives when no tick labels
    # are above) spares a search over every axis's tick labels at each draw.
    ax.set_title(text, fontsize=11, y=1.0)


def _widen_for(fig: Figure, title) -> tuple[float, float]:
    """Widen the figure if ``title`` (a text spanning it) is wider; return its size."""
    width, height = size(fig, title)
    if width + 2 * PAD > fig.get_figwidth():  # e.g. a forest plot of one panel
        fig.set_figwidth(width + 2 * PAD)
    return width, height


def suptitle(fig: Figure, text: str) -> float:
    """Put the figure title at the top; return the inches it takes, gap below included.

    Call it before anything else is measured: it may widen the figure.
    """
    title = fig.suptitle(text, fontsize=12, y=1 - PAD / fig.get_figheight(), va="top")
    return PAD + _widen_for(fig, title)[1] + _GAP


def figure_legend(fig: Figure, handles: list, ncol: int) -> float:
    """A legend centred at the figure's bottom in at most ``ncol`` columns, fewer if it
    would be wider than the figure; return the inches it takes, gap above included."""
    room = fig.get_figwidth() - 2 * PAD
    while True:
        legend = fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False,
                            fontsize=9)
        width, height = size(fig, legend)
        if width <= room or ncol == 1:
            break
        legend.remove()
        ncol = -(-ncol // 2) if ncol > 2 else 1
    return mpl.rcParams["legend.borderaxespad"] * 9 / 72 + height + _GAP


def place_grid(fig: Figure, axes: np.ndarray, *, left: float, right: float, top: float,
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


def _percent_tick_values(axis: str, lo: float, hi: float, length: float,
                         fontsize: float) -> np.ndarray:
    """The ticks matplotlib's default locator picks for a ``length`` inch axis from
    ``lo`` to ``hi``: steps of 1, 2, 2.5 or 5 times a power of ten, at most one tick per
    3 (x) or 2 (y) times the label font size of axis length."""
    per_tick = fontsize * (3 if axis == "x" else 2)
    nbins = int(np.clip(np.floor(length * 72 / per_tick), 1, 9))
    ticks = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    eps = 1e-9 * (hi - lo)
    return ticks[(ticks >= lo - eps) & (ticks <= hi + eps)]


def percent_ticks(ax, axis: str, lo: float, hi: float, length: float,
                   fontsize: float) -> np.ndarray:
    """Fix the ticks matplotlib's default locator picks for a ``length`` inch axis.

    The default asks the axis for its size at every draw and creates ticks beyond the
    limits too; here they are computed once (:func:`_percent_tick_values`).
    """
    ticks = _percent_tick_values(axis, lo, hi, length, fontsize)
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks)
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0,
                                                                                 decimals=0))
    return ticks


def bare_y_axis(ax, ticks: np.ndarray, grid: str | None = None) -> None:
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
    _y_tick_marks(ax, np.zeros(len(ticks)), ticks, transform=on_y, zorder=1.5)


def _y_tick_marks(ax, x: np.ndarray, y: np.ndarray, **kw) -> None:
    """Left y tick marks at points (``x``, ``y``), styled as matplotlib's own."""
    ax.plot(x, y, linestyle="", marker=TICKLEFT, markersize=mpl.rcParams["ytick.major.size"],
            markeredgewidth=mpl.rcParams["ytick.major.width"],
            color=mpl.rcParams["ytick.color"], clip_on=False, **kw)


def limits(low: pd.Series, target: float, floor: float = 0.0) -> tuple[float, float]:
    """x (or y) limits from the lowest interval bound and the target, in steps of 5 %."""
    lows = low[np.isfinite(low)]
    lo = min(lows.min() if len(lows) else target, target)
    return max(floor, np.floor(lo * 20 - 0.5) / 20), 1.012


def indicator_order(table: pd.DataFrame, indicators: Sequence[str] | None) -> list[str]:
    codes = list(dict.fromkeys(table["indicator"]))
    return codes if indicators is None else [c for c in indicators if c in codes]


def panel_row(fig: Figure, ax, titles: Sequence[str], rows: Sequence[str], *, top: float,
              bottom: float, lo: float, hi: float, label_size: float | str,
              bold: str | None = None) -> np.ndarray:
    """Lay out ``len(titles)`` panels side by side in the one axes ``ax``: they share
    their ``rows`` (labelled at the left of the first; the label ``bold`` in bold) and
    a percent x axis from ``lo`` to ``hi``; ``top`` and ``bottom`` are the inches taken
    by the figure title and legend. Returns each panel's x offset: panel ``k`` draws
    ``x`` at ``x + offsets[k]``.

    It looks like a row of matplotlib axes (framed panels, their titles, tick labels and
    grid), but a matplotlib axes costs about 20 ms to make and draw, most of a chart's
    time with five panels; this one is drawn as a few lines and texts. The panel titles
    are the axes' texts with gid ``"panel_title"``.
    """
    n = len(titles)
    tick_w, tick_h = text_size(fig, "100%", fontsize=8)
    label_w = max(text_size(fig, r, fontsize=label_size,
                            fontweight="bold" if r == bold else "normal")[0] for r in rows)
    title_h = text_size(fig, "".join(titles), fontsize=11)[1]
    gap = tick_w + PAD  # inches between panels, as place_grid's wgap
    width, _ = place_grid(fig, np.array([[ax]]), left=PAD + label_w + tick_room("y"),
                          right=PAD + tick_w / 2,
                          top=top + title_h + mpl.rcParams["axes.titlepad"] / 72,
                          bottom=bottom + tick_h + tick_room("x"))
    panel_w = (width - (n - 1) * gap) / n
    if panel_w <= 0:
        raise ValueError(f"chart labels leave no room for the panels ({width:.1f} in)")
    span = hi - lo
    offsets = np.arange(n) * span * (1 + gap / panel_w)
    ax.set_xlim(lo, lo + offsets[-1] + span)
    ticks = _percent_tick_values("x", lo, hi, panel_w, 8)
    names = [f"{t:.0%}" for t in ticks]  # as PercentFormatter(1.0, decimals=0)
    ax.set_xticks(np.concatenate([ticks + off for off in offsets]), names * n)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(axis="y", labelsize=label_size)
    for label in ax.get_yticklabels():
        if label.get_text() == bold:
            label.set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    for spine in ax.spines.values():
        spine.set_visible(False)
    on_x = ax.get_xaxis_transform()  # x in data, y in axes fractions
    frame = {"color": mpl.rcParams["axes.edgecolor"], "linewidth": mpl.rcParams["axes.linewidth"],
             "transform": on_x, "clip_on": False, "zorder": 2.5}
    left, right = lo + offsets, lo + offsets + span
    ax.plot(np.column_stack([left, left, right, right, left, np.full(n, np.nan)]).ravel(),
            np.tile([0.0, 1.0, 1.0, 0.0, 0.0, np.nan], n), solid_joinstyle="miter", **frame)
    # the inner panels' y tick marks (the first panel's are the axis' own)
    _y_tick_marks(ax, np.repeat(left[1:], len(rows)),
                  np.tile(np.arange(len(rows), dtype=float), n - 1), zorder=2.5)
    pad = offset_copy(on_x, fig=fig, y=mpl.rcParams["axes.titlepad"], units="points")
    for title, middle in zip(titles, (left + right) / 2, strict=True):
        ax.text(middle, 1.0, title, fontsize=11, ha="center", va="baseline", transform=pad,
                gid="panel_title")
    return offsets
