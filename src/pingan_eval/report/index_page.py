"""The batch's ``index.html``: every report of a period, its run status and verdicts.

One self-contained Chinese page (inline CSS, no scripts, no network), so it opens from
the file system. It formats; it computes nothing. Text from data (area names, error
messages) is HTML-escaped and links are URL-quoted, whatever the names contain.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pandas as pd

from pingan_eval.labels import zh

#: Badge colours per verdict; unknown verdicts use the grey of ``no_data``.
_VERDICT_CLASS = {"met": "met", "not_met": "notmet", "undecided": "undecided",
                  "not_due": "neutral", "no_data": "neutral"}
_STATUS_ZH = {"ok": "已生成", "failed": "失败", "timeout": "超时"}
_SOURCE_ORDER = ("survey", "register", "structural", "task")
_LEGEND_NOTE = "估计值下方为95%置信区间；※ 需谨慎解读。点击地区名称打开报告。"

_CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
       "PingFang SC", "WenQuanYi Micro Hei", sans-serif;
       margin: 0 auto; max-width: 1400px; padding: 1.2em 1.5em; color: #1f2933; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .5em; border-bottom: 2px solid #d9e2ec;
     padding-bottom: .2em; }
p.sub { color: #52606d; margin: 0 0 1em; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #d9e2ec; padding: .35em .5em; vertical-align: top; }
th { background: #f0f4f8; font-weight: 600; }
td.name { white-space: nowrap; }
td.num, th.area { text-align: center; min-width: 5.5em; }
.badge { display: inline-block; padding: .05em .45em; border-radius: .7em;
         font-size: .85em; white-space: nowrap; color: #fff; }
.met { background: #2f8132; } .notmet { background: #c62828; }
.undecided { background: #e08a00; } .neutral { background: #7b8794; }
.ok { color: #2f8132; font-weight: 600; } .bad { color: #c62828; font-weight: 600; }
.est { display: block; font-variant-numeric: tabular-nums; }
.ci { display: block; color: #616e7c; font-size: .8em; white-space: nowrap; }
.warn { color: #b44d00; font-size: .8em; }
.group td { background: #f7f9fb; font-weight: 600; }
.err { font-family: monospace; font-size: .85em; color: #8a1c1c; max-width: 46em;
       overflow-wrap: anywhere; }
.legend span { margin-right: 1em; }
@page { size: A4; margin: 14mm 10mm; }
@page { @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; } }
@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  table { font-size: 7pt; width: 100%; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  td.num, th.area { min-width: 0; }
  td.name { white-space: normal; }
  h2 { break-after: avoid; }
}
"""


@dataclass(frozen=True)
class ReportEntry:
    """One row of the report list: an area's report file and how its run ended.

    Attributes
    ----------
    area : str
        Township or county name.
    level : str
        ``"county"``, ``"township"`` or ``"department"`` (the department overview:
        its verdict tally counts every ``area_level == "department"`` row).
    status : str
        ``"ok"``, ``"failed"`` or ``"timeout"``.
    href : str or None
        The HTML file name relative to ``index.html`` (None if none was written).
    error : dict or None
        ``cell_index``, ``ename``, ``evalue`` where the run failed.
    """

    area: str
    level: str
    status: str
    href: str | None
    error: Mapping[str, object] | None = None


def fmt_value(value: float, measure: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if measure == "rate":
        return f"{100 * value:.1f}%"
    return f"{value:g}"


def _fmt_ci(low: float, high: float, measure: str) -> str:
    if any(v is None or math.isnan(v) for v in (low, high)):
        return ""
    if measure == "rate":
        return f"[{100 * low:.1f}, {100 * high:.1f}]"
    return f"[{low:g}, {high:g}]"


def _cell(row: pd.Series, measure: str) -> str:
    verdict = str(row["verdict"])
    badge = (f'<span class="badge {_VERDICT_CLASS.get(verdict, "neutral")}">'
             f"{html.escape(zh('verdict', verdict))}</span>")
    if row["flag"] == "suppress":
        return f'{badge}<span class="warn">{html.escape(zh("flag", "suppress"))}</span>'
    est = html.escape(fmt_value(row["estimate"], measure))
    if row["flag"] == "review":
        est += f'<span class="warn" title="{html.escape(zh("flag", "review"))}">※</span>'
    parts = [badge, f'<span class="est">{est}</span>']
    ci = _fmt_ci(row["ci_low"], row["ci_high"], measure)
    if ci:
        parts.append(f'<span class="ci">{ci}</span>')
    return "".join(parts)


def _target_text(rows: pd.DataFrame, measure: str, comparison: str) -> str:
    """The threshold, e.g. ``≥95.0%``; "各乡镇不同" where townships have their own."""
    targets = rows["target"].dropna().unique()
    if len(targets) == 0:
        return ""
    if len(targets) > 1:
        return "各地不同"
    sign = {">=": "≥", "<=": "≤", ">": "＞", "<": "＜"}.get(comparison, comparison)
    return f"{sign}{fmt_value(float(targets[0]), measure)}"


def _error_text(error: Mapping[str, object] | None) -> str:
    if not error:
        return ""
    where = error.get("cell_index")
    prefix = f"第 {where} 个单元格：" if where is not None else ""
    return f"{prefix}{error.get('ename', '')}: {error.get('evalue', '')}"


def _link(rep: ReportEntry) -> str:
    name = html.escape(rep.area)
    return f'<a href="{quote(rep.href, safe="")}">{name}</a>' if rep.href else name


def _report_rows(reports: Sequence[ReportEntry], table: pd.DataFrame) -> str:
    rows = []
    for rep in reports:
        mine = (table[table["area_level"] == "department"]
                if rep.level == "department" and "area_level" in table
                else table[table["area"] == rep.area])
        counts = mine["verdict"].value_counts()
        tally = " ".join(
            f'<span class="badge {_VERDICT_CLASS[v]}">{zh("verdict", v)} {int(counts[v])}</span>'
            for v in ("met", "not_met", "undecided") if counts.get(v, 0)
        )
        cls = "ok" if rep.status == "ok" else "bad"
        status = f'<span class="{cls}">{_STATUS_ZH.get(rep.status, rep.status)}</span>'
        err = _error_text(rep.error)
        if err:
            status += f'<div class="err">{html.escape(err)}</div>'
        rows.append(f'<tr><td class="name">{_link(rep)}</td><td>{zh("area_level", rep.level)}</td>'
                    f"<td>{status}</td><td>{tally}</td></tr>")
    return "\n".join(rows)


def _matrix(table: pd.DataFrame, reports: Sequence[ReportEntry],
            measures: Mapping[str, str], comparisons: Mapping[str, str]) -> str:
    shown = set(table["area"])
    reports = [r for r in reports if r.area in shown]
    areas = [r.area for r in reports]
    head = "".join(
        f'<th class="area">{_link(r)}</th>' for r in reports
    )
    lines = [f"<tr><th>指标</th><th>目标</th>{head}</tr>"]
    indicators = table.drop_duplicates("indicator")[["indicator", "name_zh", "source"]]
    order = {s: i for i, s in enumerate(_SOURCE_ORDER)}
    indicators = indicators.assign(_o=indicators["source"].map(order).fillna(len(order)))
    indicators = indicators.sort_values("_o", kind="stable")
    by_key = {(r.area, r.indicator): r for r in table.itertuples(index=False)}
    current = None
    for ind in indicators.itertuples(index=False):
        if ind.source != current:
            current = ind.source
            lines.append(f'<tr class="group"><td colspan="{len(areas) + 2}">'
                         f"{html.escape(zh('source', current))}</td></tr>")
        measure = measures.get(ind.indicator, "rate")
        cells = []
        for area in areas:
            row = by_key.get((area, ind.indicator))
            content = "" if row is None else _cell(pd.Series(row._asdict()), measure)
            cells.append(f'<td class="num">{content}</td>')
        target = _target_text(table[table["indicator"] == ind.indicator], measure,
                              comparisons.get(ind.indicator, ">="))
        lines.append(f'<tr><td class="name">{html.escape(str(ind.name_zh))}</td>'
                     f'<td class="num">{html.escape(target)}</td>{"".join(cells)}</tr>')
    return "\n".join(lines)


def render_index(
    *,
    title: str,
    period: str,
    reports: Sequence[ReportEntry],
    table: pd.DataFrame,
    measures: Mapping[str, str] | None = None,
    comparisons: Mapping[str, str] | None = None,
    basis: str = "",
) -> str:
    """The HTML of ``index.html``.

    Parameters
    ----------
    title : str
        Page heading, e.g. ``"青河县平安建设评估"``.
    period : str
        ``YYYY-MM``.
    reports : sequence of ReportEntry
        One per area, in display order (county first); failed runs included.
    table : pandas.DataFrame
        One row per area and indicator, the official one
        (:func:`pingan_eval.summary.official_rows` of the batch's summary), with at least
        ``area, indicator, name_zh, source, estimate, ci_low, ci_high, target, verdict,
        flag``.
    measures : mapping, optional
        Indicator code -> ``"rate"`` (shown as a percentage) or ``"count"``; missing
        codes are rates.
    comparisons : mapping, optional
        Indicator code -> the plan's comparison (``">="``, ``"<="``); default ``">="``.
    basis : str, optional
        What the survey verdicts rest on, one sentence shown above the matrix (e.g.
        乡镇结论依据模型估计…).

    Returns
    -------
    str
        The whole page: a list of reports with run status and errors, then a matrix of
        indicators x areas with verdict badges (达标 / 未达标 / 尚无定论), estimate
        and confidence interval.

    Examples
    --------
    >>> t = pd.DataFrame({"area": ["青河县"], "indicator": ["awareness"],
    ...     "name_zh": ["知晓率"], "source": ["survey"], "estimate": [0.9612],
    ...     "ci_low": [0.94], "ci_high": [0.975], "target": [0.95],
    ...     "verdict": ["undecided"], "flag": ["ok"]})
    >>> page = render_index(title="青河县", period="2026-11", table=t,
    ...     reports=[ReportEntry("青河县", "county", "ok", "county.html")])
    >>> "96.1%" in page and "尚无定论" in page and 'href="county.html"' in page
    True
    """
    measures, comparisons = measures or {}, comparisons or {}
    # department rows are tallied on the department overview's line, not in the matrix
    matrix = (table[table["area_level"] != "department"] if "area_level" in table
              else table)
    legend = "".join(
        f'<span><span class="badge {_VERDICT_CLASS[v]}">{zh("verdict", v)}</span></span>'
        for v in ("met", "not_met", "undecided")
    )
    failed = [r for r in reports if r.status != "ok"]
    note = (f'<p class="bad">{len(failed)} 份报告未能生成：'
            f"{html.escape('、'.join(r.area for r in failed))}</p>" if failed else "")
    return f"""<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} {html.escape(period)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="sub">评估月份：{html.escape(period)}　共 {len(reports)} 份报告</p>
{note}
<h2>报告</h2>
<table>
<tr><th>地区</th><th>层级</th><th>运行状态</th><th>结论汇总</th></tr>
{_report_rows(reports, table)}
</table>
<h2>指标一览</h2>
<p class="legend">{legend}<span>{_LEGEND_NOTE}</span></p>
{f'<p class="sub">{html.escape(basis)}</p>' if basis else ""}
<table>
{_matrix(matrix, reports, measures, comparisons)}
</table>
</body>
</html>
"""
