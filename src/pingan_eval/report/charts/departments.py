"""The department chart: county departments by share of their due tasks done on time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pingan_eval.report.charts.layout import (
    GRID,
    PAD,
    VERDICT_STYLE,
    figure_legend,
    new_figure,
    percent_ticks,
    place_grid,
    set_title,
    short_name,
    text_size,
    tick_room,
    title_room,
    widest,
)

#: Bar colours per status (Okabe-Ito, as the verdicts: on time blue, late orange,
#: overdue vermillion).
STATUS_COLORS = {"on_time": VERDICT_STYLE["met"]["color"],
                 "late": VERDICT_STYLE["undecided"]["color"],
                 "overdue": VERDICT_STYLE["not_met"]["color"]}
_STATUS_ZH = {"on_time": "按时完成", "late": "逾期完成", "overdue": "逾期未完成"}


def department_chart(scores: pd.DataFrame, *, period: str | None = None) -> Figure:
    """Departments by share of due tasks done on time: stacked bars, best first.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`pingan_eval.summary.departments.department_scores`.
    period : str, optional
        Shown in the title.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per department, sorted by on-time share (highest on top; ties in plan
        order): the shares of its due rows done on time, late and overdue, the on-time
        share written at the right ("未到期" when nothing was due yet).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"department": ["县妇联", "县交通局"], "on_time": [1, 1],
    ...     "late": [0, 1], "overdue": [0, 0], "due": [1, 2], "on_time_share": [1.0, 0.5]})
    >>> fig = department_chart(s)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['县妇联', '县交通局']
    """
    if scores.empty:
        raise ValueError("department_chart: no department has a task")
    order = scores.assign(_k=scores["on_time_share"].fillna(-1.0),
                          _p=np.arange(len(scores)))
    order = order.sort_values(["_k", "_p"], ascending=[False, True], kind="stable")
    names = [short_name(d) for d in order["department"]]
    fig, axes = new_figure(1, 1, 7.0, 0.32 * len(order) + 1.6)
    ax = axes[0][0]
    y = np.arange(len(order))
    due = order["due"].to_numpy(dtype=float)
    left = np.zeros(len(order))
    for status, color in STATUS_COLORS.items():
        share = np.divide(order[status].to_numpy(dtype=float), due,
                          out=np.zeros(len(order)), where=due > 0)
        ax.barh(y, share, left=left, color=color, height=0.65, edgecolor="white",
                linewidth=0.5)
        left += share
    for i, (s, d) in enumerate(zip(order["on_time_share"], due, strict=True)):
        text = "未到期" if d == 0 else f"{100 * s:.0f}%"
        ax.text(1.01, i, text, va="center", ha="left", fontsize=8.5)
    ax.set_yticks(y, names, fontsize=9)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    title = "各部门任务按时完成率" + (f"（截至{period}）" if period else "")
    set_title(ax, title)
    handles = [Patch(color=c, label=_STATUS_ZH[s]) for s, c in STATUS_COLORS.items()]
    bottom = figure_legend(fig, handles, ncol=3)
    tick_w, tick_h = text_size(fig, "100%", fontsize=8)
    label_w = widest(fig, names, fontsize=9)
    right = PAD + text_size(fig, "未到期", fontsize=8.5)[0] + 0.1
    axw, _ = place_grid(fig, axes, left=PAD + label_w + tick_room("y"), right=right,
                        top=PAD + title_room(fig, ax),
                        bottom=bottom + tick_h + tick_room("x"))
    percent_ticks(ax, "x", 0.0, 1.0, axw, 8)
    ax.tick_params(axis="x", labelsize=8)
    return fig
