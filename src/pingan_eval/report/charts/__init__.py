"""The report's charts: forest plot, trends, breakdowns, safe-cell heat map, departments.

Every function takes a table the library already computed (it computes no statistics),
returns a :class:`matplotlib.figure.Figure` with Chinese titles and axes, and is
deterministic: the same table gives the same picture. Verdict colours are the
Okabe-Ito colour-blind-safe palette, doubled by marker shape; estimates flagged
``review`` are drawn hollow with a dotted interval, those flagged
``suppress`` are not drawn but labelled "数据不足，不予显示" in their place (NCHS
presentation standards: never silently). Figures are made outside pyplot (no global
figure registry to leak in a batch run): show one in a notebook with
``display(image(fig))`` or write it with ``fig.savefig(path)``.

One module per chart (:mod:`.forest`, :mod:`.trend`, :mod:`.breakdown`, :mod:`.heatmap`,
:mod:`.departments`)
over :mod:`.layout`, the shared styles and the margins measured from the texts.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg

from pingan_eval.report.charts.breakdown import breakdown_plot
from pingan_eval.report.charts.departments import department_chart
from pingan_eval.report.charts.forest import (
    COUNTY_FULL_ROWS,
    COUNTY_LOWEST,
    FOREST_FULL_ROWS,
    forest_plot,
)
from pingan_eval.report.charts.heatmap import HEATMAP_MAX_ROWS, naming_heatmap
from pingan_eval.report.charts.layout import FLAG_STYLE, VERDICT_STYLE, image, png_bytes
from pingan_eval.report.charts.trend import trend_plot

__all__ = [
    "FLAG_STYLE",
    "COUNTY_FULL_ROWS",
    "COUNTY_LOWEST",
    "FOREST_FULL_ROWS",
    "HEATMAP_MAX_ROWS",
    "VERDICT_STYLE",
    "FigureCanvasAgg",  # the canvas the charts draw with (tests measure text with it)
    "breakdown_plot",
    "department_chart",
    "forest_plot",
    "image",
    "png_bytes",
    "naming_heatmap",
    "trend_plot",
]
