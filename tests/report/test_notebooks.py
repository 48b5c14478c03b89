"""The report notebooks as files: parameters, thinness, committed outputs.

nbval (``make test``) re-executes them; these checks cover what nbval does not: the
``parameters`` contract with ``pingan-eval batch``, no logic defined in a notebook, and
committed outputs that are complete, small and free of volatile text.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from pingan_eval import paths

NOTEBOOKS = {
    "township_report.ipynb": ["township", "period", "raw_dir", "processed_dir", "plan_path",
                              "summary_path", "trend_path", "breakdowns_path", "registers_dir",
                              "cache_dir"],
    "county_overview.ipynb": ["period", "raw_dir", "processed_dir", "plan_path",
                              "summary_path", "trend_path", "breakdowns_path", "registers_dir",
                              "cache_dir"],
}
#: Every report notebook the batch runs: the two above and the department overview
#: (the tasks by department), which takes the county overview's parameters.
ALL_NOTEBOOKS = {**NOTEBOOKS, "department_overview.ipynb": NOTEBOOKS["county_overview.ipynb"]}


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(paths.NOTEBOOKS_DIR / name, as_version=4)


@pytest.mark.parametrize("name", sorted(ALL_NOTEBOOKS))
def test_parameters_cell(name):
    nb = _read(name)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse(tagged[0].source)
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign)}
    assert list(values) == ALL_NOTEBOOKS[name]
    assert values["period"] == "2026-11"
    assert all(values[k] is None for k in ("raw_dir", "processed_dir", "plan_path",
                                          "summary_path", "trend_path", "breakdowns_path",
                                          "registers_dir", "cache_dir"))
    if "township" in values:
        assert values["township"] == "青河镇"
    # the parameters come before any code that uses them
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is tagged[0]


@pytest.mark.parametrize("name", sorted(ALL_NOTEBOOKS))
def test_notebooks_are_thin(name):
    for cell in _read(name).cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defined = [n for n in ast.walk(tree)
                   if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Lambda)]
        assert defined == [], cell.source
        assert "%matplotlib" not in cell.source


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_committed_outputs(name):
    path = paths.NOTEBOOKS_DIR / name
    assert path.stat().st_size < 1_000_000
    nb = _read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert all(o.output_type != "error" for o in cell.outputs), cell.source
        assert all(o.output_type != "stream" or o.name != "stderr" for o in cell.outputs), \
            cell.source  # no warnings (e.g. a missing CJK font) in the committed run
    shown = [c for c in code if "display(" in c.source and " if " not in c.source
             and "\nif " not in c.source]
    assert all(c.outputs for c in shown), "every display cell has its committed output"
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 4
    tags = [t for c in code for t in c.metadata.get("tags", [])]
    assert tags.count("nbval-check-output") == 2
    provenance = [c for c in code if "provenance_table" in c.source]
    assert len(provenance) == 1
    assert "nbval-ignore-output" in provenance[0].metadata.get("tags", [])
    compared = "".join(str(o.get("data", {}).get("text/html", ""))
                       + str(o.get("data", {}).get("text/markdown", ""))
                       for c in code if "nbval-check-output" in c.metadata.get("tags", [])
                       for o in c.outputs)
    assert compared
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", compared)
    assert "/work/" not in str(nb) and "/home/" not in str(nb)
    assert "iopub.execute_input" not in path.read_text(encoding="utf-8")  # no run times


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_committed_tables_are_styled_without_trust(name):
    """JupyterLab shows an untrusted notebook's HTML through its sanitizer, which drops
    <style> blocks: the committed tables carry their colours as inline styles, so they
    open styled on any machine without "Trust notebook" or a re-run."""
    tables = [o["data"]["text/html"] for c in _read(name).cells if c.cell_type == "code"
              for o in c.outputs if "<table" in o.get("data", {}).get("text/html", "")]
    assert tables
    assert [t[:60] for t in tables if "<style" in t] == []
    assert all('style="' in t for t in tables)
    assert any(re.search(r'style="[^"]*background-color: #(D6EAF8|FADBD8|FDEBD0)', t)
               for t in tables), "no verdict colour"
