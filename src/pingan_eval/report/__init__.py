"""Reports: tables, text and charts for the township and county notebooks, HTML, the index.

This layer formats; it computes no statistics. The notebooks call the names below
(``report.headline_table(...)``); charts are in :mod:`pingan_eval.report.charts`.
"""

from pingan_eval.report.departments import (
    DEPARTMENTS_PAGE,
    DepartmentData,
    cell_programmes_table,
    department_data,
    department_heading,
    department_link,
    department_paragraph,
    department_status_table,
    department_table,
    evidence_gaps_table,
    overdue_table,
    unmatched_table,
)
from pingan_eval.report.details import RegisterDetail, register_detail, task_detail
from pingan_eval.report.formatting import fmt_ci, fmt_pct, html, md_escape, period_zh, style
from pingan_eval.report.inputs import ReportInputs, area_breakdowns, load_inputs, sample_advice
from pingan_eval.report.methods import methods_table, provenance_table
from pingan_eval.report.tables import (
    advice_table,
    breakdown_table,
    change_table,
    comparison_table,
    estimates_table,
    headline_table,
    register_table,
)
from pingan_eval.report.text import (
    advice_paragraph,
    basis_note,
    breakdown_note,
    headline_paragraph,
    report_heading,
)
from pingan_eval.survey.breakdowns import BREAKDOWN_BY

__all__ = [
    "BREAKDOWN_BY",
    "DEPARTMENTS_PAGE",
    "DepartmentData",
    "RegisterDetail",
    "ReportInputs",
    "advice_paragraph",
    "advice_table",
    "area_breakdowns",
    "basis_note",
    "breakdown_note",
    "breakdown_table",
    "cell_programmes_table",
    "change_table",
    "comparison_table",
    "department_data",
    "department_heading",
    "department_link",
    "department_paragraph",
    "department_status_table",
    "department_table",
    "estimates_table",
    "evidence_gaps_table",
    "fmt_ci",
    "fmt_pct",
    "headline_paragraph",
    "headline_table",
    "html",
    "load_inputs",
    "md_escape",
    "methods_table",
    "overdue_table",
    "period_zh",
    "provenance_table",
    "register_detail",
    "register_table",
    "report_heading",
    "sample_advice",
    "style",
    "task_detail",
    "unmatched_table",
]
