"""Numbers and tables as a Chinese reader sees them: percentages, intervals, styled HTML.

:func:`style` turns a table into a deterministic pandas Styler (verdict colours, greyed
flagged rows, fixed table id); :func:`html` is what a notebook displays. Every text that
can come from a user (township, village and unit names, plan names) is escaped: in
tables and captions as HTML (:func:`style`), in Markdown by :func:`md_escape`.
"""

from __future__ import annotations

import html as _html
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from pingan_eval import labels
from pingan_eval.plan import Plan

if TYPE_CHECKING:
    from IPython.display import HTML



DASH = "—"


N_HEADER = "样本量/单位数"


#: Cells longer than this many characters wrap (see :func:`style`).
_WRAP_CHARS = 18

_VERDICT_BG = {"达标": "#D6EAF8", "未达标": "#FADBD8", "尚无定论": "#FDEBD0"}


#: Characters Markdown (or HTML inside it) gives a meaning to, inside a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}<>#|~!&$])")
_MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def md_escape(text: object) -> str:
    r"""``text`` as literal Markdown: shown as typed, never markup, links or HTML.

    Whitespace runs (line breaks included) become one space, so a name cannot end a
    heading or a paragraph; ``<``, ``>`` and ``&`` become HTML entities (Markdown passes
    raw HTML through) and the other Markdown punctuation is backslash-escaped.

    Examples
    --------
    >>> md_escape("青河镇"), md_escape("<img src=x onerror=alert(1)>"), md_escape("*a*\n# b")
    ('青河镇', '&lt;img src=x onerror=alert(1)&gt;', '\\*a\\* \\# b')
    """
    text = " ".join(str(text).split())
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m.group(1), "\\" + m.group(1)), text)


def fmt_pct(x: float, digits: int = 1) -> str:
    """A proportion as a percentage; NaN as a dash.

    Examples
    --------
    >>> fmt_pct(0.9432), fmt_pct(1.0), fmt_pct(float("nan"))
    ('94.3%', '100.0%', '—')
    """
    return DASH if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def fmt_ci(low: float, high: float, digits: int = 1) -> str:
    """A 95 % interval as ``low–high`` in percent; a dash when a bound is missing.

    Examples
    --------
    >>> fmt_ci(0.921, 0.964)
    '92.1%–96.4%'
    """
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return DASH
    return f"{fmt_pct(low, digits)}–{fmt_pct(high, digits)}"


def fmt_value(x: float, measure: str) -> str:
    if measure == "count":
        return DASH if not np.isfinite(x) else f"{x:g}"
    return fmt_pct(x)


def fmt_target(x: float, measure: str, comparison: str = ">=") -> str:
    sign = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}.get(comparison, comparison)
    if not np.isfinite(x):
        return DASH
    if measure != "count" and x == 1 and comparison == ">=":
        return "100%"  # all of them: "≥100%" would read oddly
    whole = measure != "count" and float(100 * x).is_integer()
    return sign + (fmt_pct(x, 0) if whole else fmt_value(x, measure))


def measure_of(plan: Plan, code: str, source: str = "") -> tuple[str, str]:
    """How to print a summary row's value: ``count`` or ``rate``, and the comparison.

    Task rows of the summary are completion shares whatever the task's own measure.
    """
    try:
        t = plan.target(code)
    except ValueError:
        return "rate", ">="
    return ("rate" if source == "task" else t.measure), t.comparison


def flag_text(flag: str, reason: object) -> str:
    """The flag in Chinese, with its reasons unless the estimate is ok."""
    why = labels.reasons_zh(reason) if flag != "ok" else ""
    return labels.zh("flag", flag) + (f"（{why}）" if why else "")


def area_rows(summary: pd.DataFrame, area: str) -> pd.DataFrame:
    from pingan_eval.errors import ReportError

    rows = summary[summary["area"] == area]
    if rows.empty:
        known = ", ".join(dict.fromkeys(summary["area"].astype(str)))
        raise ReportError(f"no summary rows for {area!r}; the summary has: {known}")
    return rows


def span_zh(start: str, end: str) -> str:
    """The months ``start`` to ``end`` in Chinese.

    Examples
    --------
    >>> span_zh("2026-01", "2026-11"), span_zh("2025-12", "2026-02"), span_zh("2026-11", "2026-11")
    ('2026年1—11月', '2025年12月—2026年2月', '2026年11月')
    """
    a, b = pd.Period(start, freq="M"), pd.Period(end, freq="M")
    if a == b:
        return period_zh(end)
    if a.year == b.year:
        return f"{a.year}年{a.month}—{b.month}月"
    return f"{period_zh(start)}—{period_zh(end)}"


def estimator_zh(row) -> str:
    """What a summary row's figure is, in a few words: 本月直接估计, 模型估计, ...

    Register rows (complete counts) read 台账全数统计.

    Examples
    --------
    >>> import pandas as pd
    >>> estimator_zh(pd.Series({"source": "survey", "estimator": "pooled",
    ...     "window_start": "2026-10", "period": "2026-11"}))
    '多月合并估计（10—11月）'
    """
    if row["source"] != "survey":
        return "台账全数统计"
    estimator = str(row.get("estimator", "direct"))
    text = labels.zh("estimator", estimator)
    if estimator == "pooled":
        start, end = str(row["window_start"]), str(row["period"])
        span = span_zh(start, end)
        if start[:4] == end[:4]:  # the report's own year goes without saying
            span = span.removeprefix(f"{end[:4]}年")
        text += f"（{span}）"
    return text


def basis_zh(row) -> str:
    """The basis of a survey row's verdict in a sentence: what it is and what it rests on.

    Examples
    --------
    >>> import pandas as pd
    >>> basis_zh(pd.Series({"source": "survey", "estimator": "direct",
    ...     "window_start": "2026-11", "period": "2026-11"}))
    '本月直接估计：仅用本月调查样本'
    """
    estimator = str(row.get("estimator", "direct"))
    return f"{estimator_zh(row)}：{labels.ESTIMATOR_BASIS.get(estimator, '')}"


def levels_basis_zh(rows: pd.DataFrame) -> str:
    """What the survey verdicts of each area level rest on, one sentence.

    ``rows`` are official rows (:func:`pingan_eval.summary.official_rows`); a level whose
    areas use different estimators (a fallback) lists each.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"source": "survey", "area_level": ["county", "township"],
    ...     "estimator": ["direct", "model"], "period": "2026-11", "window_start": "2026-11"})
    >>> levels_basis_zh(t).split("；")[0]
    '调查指标：全县结论依据本月直接估计（仅用本月调查样本）'
    """
    survey = rows[rows["source"] == "survey"]
    if survey.empty or "estimator" not in survey:
        return ""
    parts = []
    for level, group in survey.groupby("area_level", sort=False):
        bases = dict.fromkeys(f"{estimator_zh(r)}（{labels.ESTIMATOR_BASIS[r['estimator']]}）"
                              for _, r in group.drop_duplicates(
                                  ["estimator", "window_start"]).iterrows())
        parts.append(f"{labels.zh('area_level', level)}结论依据{'或'.join(bases)}")
    return "调查指标：" + "；".join(parts) + "。"


def period_zh(period: str) -> str:
    """``YYYY-MM`` in Chinese.

    Examples
    --------
    >>> period_zh("2026-11")
    '2026年11月'
    """
    p = pd.Period(period, freq="M")
    return f"{p.year}年{p.month}月"


def style(table: pd.DataFrame, *, uuid: str, caption: str | None = None,
          align: str = "center") -> Styler:
    """A deterministic Styler: no index, verdict colours, suppressed rows in grey.

    Cells, column headers and the caption are HTML-escaped: a name carrying markup
    (``<img src=x onerror=...>``) is shown as typed, never run.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of this module (Chinese headers, text cells).
    uuid : str
        Fixed id of the HTML table (distinct per table of a page), so that the HTML
        is the same on every run.
    caption : str, optional
        Table caption.
    align : str
        CSS ``text-align`` of the cells (``"left"`` for tables of long text).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"指标": ["知晓率"], "结论": ["达标"], "可靠性": ["可靠"]})
    >>> 'id="T_demo"' in style(t, uuid="demo").to_html()
    True
    """
    styler = (table.style.set_uuid(uuid).hide(axis="index")
              .format(escape="html").format_index(escape="html", axis=1))
    if caption:
        styler = styler.set_caption(_html.escape(caption, quote=False))
    verdict_cols = [c for c in table.columns if c == "结论" or str(c).endswith("结论")]
    if verdict_cols:
        styler = styler.map(lambda v: f"background-color: {_VERDICT_BG[v]}"
                            if v in _VERDICT_BG else "", subset=verdict_cols)
    # Centred cells do not wrap (numbers, short labels); a column of long text does, or
    # the table runs off a printed page.
    long = [c for c in table.columns
            if len(table) and table[c].astype(str).str.len().max() > _WRAP_CHARS]
    short = [c for c in table.columns if c not in long]
    if align == "center" and short:
        styler = styler.set_properties(subset=short, **{"white-space": "nowrap"})
    if align == "center" and long:
        styler = styler.set_properties(subset=long, **{
            "white-space": "normal", "min-width": "8em", "text-align": "left"})
    if "可靠性" in table.columns:
        grey = table["可靠性"].str.startswith(labels.SUPPRESSED)
        styler = styler.apply(lambda row: ["color: #8C8C8C" if grey[row.name] else ""
                                           for _ in row], axis=1)
    return styler.set_table_styles([
        {"selector": "th", "props": "text-align: center; background-color: #F2F2F2;"
                                    " padding: 4px 8px;"},
        {"selector": "td", "props": f"text-align: {align}; padding: 3px 8px;"},
        {"selector": "caption", "props": "caption-side: top; font-weight: bold;"
                                         " text-align: left; padding: 4px 0;"},
    ])


def html(table: pd.DataFrame, *, uuid: str, caption: str | None = None,
         align: str = "center") -> HTML:
    """:func:`style` as an :class:`IPython.display.HTML` object for ``display()``.

    A Styler shown in a notebook also stores its text form, which carries a memory
    address; this object's text form is fixed, so committed notebook outputs are the same
    from run to run.

    Examples
    --------
    >>> import pandas as pd
    >>> out = html(pd.DataFrame({"指标": ["知晓率"]}), uuid="demo")
    >>> 'id="T_demo"' in out.data, repr(out).startswith("<IPython.core.display.HTML")
    (True, True)
    """
    from IPython.display import HTML

    return HTML(inline_styles(style(table, uuid=uuid, caption=caption, align=align).to_html()))


_CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_STYLED_TAG = re.compile(r"<(table|caption|th|td)\b([^>]*)>")


def inline_styles(page: str) -> str:
    """A Styler's HTML with its ``<style>`` block moved into ``style=""`` attributes.

    JupyterLab shows the outputs of an untrusted notebook (any notebook opened on another
    machine: trust is a per-user signature) through its HTML sanitizer, which drops
    ``<style>`` blocks but keeps inline styles of the properties used here
    (background-color, color, text-align, white-space, padding, min-width, caption-side,
    font-weight). Inline, the verdict colours show before the notebook is re-run. The
    cascade is kept: a ``#T_x td`` rule outranks a ``#T_x_row0_col0`` one, as in CSS.

    Examples
    --------
    >>> inline_styles('<style type="text/css">\\n#T_a td {\\n  padding: 1px;\\n}\\n'
    ...               '#T_a_row0_col0 {\\n  color: #8C8C8C;\\n}\\n</style>\\n'
    ...               '<td id="T_a_row0_col0" >x</td>')
    '<td id="T_a_row0_col0" style="color: #8C8C8C; padding: 1px">x</td>'
    """
    match = re.match(r'\s*<style type="text/css">(.*?)</style>\s*', page, flags=re.S)
    if match is None:
        return page
    by_tag: dict[str, list[tuple[str, str]]] = {}
    by_id: dict[str, list[tuple[str, str]]] = {}
    for selectors, declarations in _CSS_RULE.findall(match.group(1)):
        props = [(k.strip(), v.strip()) for k, v in
                 (d.split(":", 1) for d in declarations.split(";") if ":" in d)]
        for selector in selectors.split(","):
            parts = selector.split()
            if len(parts) == 2 and parts[0].startswith("#"):
                by_tag.setdefault(parts[1], []).extend(props)
            elif len(parts) == 1 and parts[0].startswith("#"):
                by_id.setdefault(parts[0][1:], []).extend(props)
            else:  # pragma: no cover - style() writes no other selector
                raise ValueError(f"inline_styles: unexpected CSS selector {selector!r}")

    def put_inline(tag: re.Match) -> str:
        name, attrs = tag.group(1), tag.group(2)
        found = re.search(r'\bid="([^"]+)"', attrs)
        merged = dict(by_id.get(found.group(1), []) if found else [])
        merged.update(by_tag.get(name, []))  # more specific in CSS: wins
        if not merged:
            return tag.group(0)
        css = "; ".join(f"{k}: {v}" for k, v in merged.items())
        return f'<{name}{attrs.rstrip()} style="{_html.escape(css)}">'

    return _STYLED_TAG.sub(put_inline, page[match.end():])


def fmt_points(x: float) -> str:
    """A difference of proportions in signed percentage points, never "-0.0"."""
    value = round(100 * float(x), 1)
    return f"{value + 0.0:+.1f}" if value != 0 else "±0.0"
