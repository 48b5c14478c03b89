"""The exported page prints: A4, the report's print rules, a running header naming the
county, township and month. (The PDFs themselves were checked by eye with Chromium's
print to PDF; the rules here are what made them fit.)"""

from __future__ import annotations

import nbformat

from pingan_eval.plan import load_plan
from pingan_eval.report.htmlexport import CSS_PATH, notebook_to_html, page_css


def _nb(parameters: dict) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": parameters}
    nb.cells = [nbformat.v4.new_markdown_cell("## 一、目标达成情况")]
    return nb


def test_page_carries_the_print_rules_and_the_running_header():
    county = load_plan().county
    page = notebook_to_html(_nb({"township": "青河镇", "period": "2026-11", "plan_path": None}),
                            title="青河镇 2026-11 平安建设评估报告")
    assert CSS_PATH.read_text(encoding="utf-8") in page
    for rule in ("size: A4", "@media print", "break-before: page", "print-color-adjust: exact",
                 "display: table-header-group", "white-space: normal !important",
                 "counter(page)"):
        assert rule in page, rule
    assert f'content: "{county} · 青河镇 · 2026年11月 · 平安建设评估报告"' in page


def test_county_page_header_and_a_page_without_parameters():
    county = load_plan().county
    page = notebook_to_html(_nb({"period": "2026-11"}), title=f"{county} 2026-11 平安建设评估总览")
    assert f'content: "{county} · 2026年11月 · 平安建设评估总览"' in page
    assert 'content: "报告"' in notebook_to_html(nbformat.v4.new_notebook(), title="报告")


def test_running_header_cannot_end_the_style_block():
    css = page_css('乡</style><script>x()</script>"')
    assert "</style>" not in css and "<script>" not in css and '""' not in css
