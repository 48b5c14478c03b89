"""The safe-cell heat map: township x category naming rates, values written in.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter

from pingan_eval.report.charts.layout import (
    PAD,
    VERDICT_STYLE,
    new_figure,
    place_grid,
    set_title,
    short_name,
    size,
    text_size,
    tick_room,
    title_room,
    widest,
)
from pingan_eval.summary.peers import lowest_townships


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.1f}%"


#: Above this many townships the heat map shows those furthest below target.
HEATMAP_MAX_ROWS = 40


def naming_heatmap(summary: pd.DataFrame, *, period: str | None = None,
                   max_rows: int = HEATMAP_MAX_ROWS) -> Figure:
    """Township x category heat map of safe-cell naming rates, values written in.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`pingan_eval.summary.period_summary` output; its ``source == "register"``
        township rows are drawn (``estimate`` is the naming rate).
    period : str, optional
        Shown in the title; default the table's period.
    max_rows : int
        A county with more townships shows the ``max_rows`` furthest below their
        targets (:func:`~pingan_eval.summary.peers.lowest_townships`), lowest first, and
        says so in the title: a thousand rows would be unreadable.

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
    shown = ""
    if len(towns) > max_rows:
        shown = f"\n共{len(towns)}个乡镇，显示离目标最远的{max_rows}个"
        towns = lowest_townships(cells, max_rows)
        cells = cells[cells["area"].isin(towns)]
    cats = list(dict.fromkeys(cells["indicator"]))
    names = dict(zip(cells["indicator"], cells["name_zh"], strict=False))
    grid = (cells.pivot_table(index="area", columns="indicator", values="estimate",
                              aggfunc="first", dropna=False)
            .reindex(index=towns, columns=cats))
    below = (cells.assign(b=cells["estimate"] < cells["target"])
             .pivot_table(index="area", columns="indicator", values="b", aggfunc="first")
             .reindex(index=towns, columns=cats).fillna(False).astype(bool).to_numpy())
    fig, axes = new_figure(1, 1, 0.78 * len(cats) + 2.4, 0.5 * len(towns) + 2.6)
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
    town_names = [short_name(t) for t in towns]
    ax.set_yticks(range(len(towns)), town_names, fontsize=9)
    set_title(ax, f"各乡镇平安细胞命名率（截至{period}；红框：低于目标，—：无应创建单位）{shown}")
    # the layout: town names at the left, slanted category names below (each ends
    # under its column, so the first may reach left of the map), the colour bar at the
    # right, vertically centred and at most 20 times as tall as wide
    bar_w, bar_pad = 0.25, 0.2
    slanted = [text_size(fig, names[c], **xlabels) for c in cats]
    right = (PAD + bar_pad + bar_w + tick_room("y")
             + text_size(fig, "100%", fontsize=mpl.rcParams["ytick.labelsize"])[0])
    left = widest(fig, town_names, fontsize=9) + tick_room("y")
    cell = (fig.get_figwidth() - PAD - left - right) / len(cats)
    left = PAD + max(left, slanted[0][0] - cell / 2)
    title_w = size(fig, ax.title)[0]
    if fig.get_figwidth() - left - right < title_w:  # few categories: widen for the title
        fig.set_figwidth(left + right + title_w)
    bottom = PAD + tick_room("x") + max(h for _, h in slanted)
    axw, axh = place_grid(fig, axes, left=left, right=right, bottom=bottom,
                           top=PAD + title_room(fig, ax))
    bar_h = min(axh, 20 * bar_w)
    cax = fig.add_axes(((left + axw + bar_pad) / fig.get_figwidth(),
                        (bottom + (axh - bar_h) / 2) / fig.get_figheight(),
                        bar_w / fig.get_figwidth(), bar_h / fig.get_figheight()))
    colorbar = fig.colorbar(image, cax=cax, extend="min", ticks=np.linspace(vmin, 1.0, 5))
    colorbar.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return fig
