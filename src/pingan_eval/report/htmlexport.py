"""Executed notebook -> one self-contained HTML page, readable offline.

The page shows outputs only (no code cells, no ``In [ ]`` prompts). Images are already
base64 ``data:`` URIs in the notebook's outputs; Markdown images are embedded too
(``embed_images``). nbconvert's ``lab`` template loads require.js, MathJax, Mermaid and
the widget manager from CDNs; reports need none of them, and a browser opening the file
without a network would wait on them, so the template used here removes those blocks.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

_TEMPLATE_NAME = "pingan_report.html.j2"

# Extends nbconvert's lab template; every block that would fetch a script is emptied.
_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
{{ resources.pingan_css }}
{{ resources.pingan_page_css }}
</style>
{%- endblock extra_css -%}
"""

#: The reports' CSS (screen and print: A4, tables that fit, a section per page).
CSS_PATH = Path(__file__).resolve().parent / "assets" / "report.css"

# Anything that makes a browser reach the network: src/href to http(s) or protocol-relative.
_EXTERNAL_RE = re.compile(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//""", re.IGNORECASE)


# nbconvert's warnings (e.g. an image without alt text) go to this logger; with its
# NullHandler they stay off the batch's progress bar unless the caller sets up logging.
_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


# One exporter per thread and language: building one compiles the Jinja templates and
# reads the CSS (about half the cost of a first export); a pool worker reuses its own.
_local = threading.local()


def _exporter(language: str) -> HTMLExporter:
    cache = _local.__dict__.setdefault("exporters", {})
    if language not in cache:
        cache[language] = _new_exporter(language)
    return cache[language]


def _new_exporter(language: str) -> HTMLExporter:
    return HTMLExporter(
        log=_log,
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=language,
    )


def notebook_to_html(nb: nbformat.NotebookNode, *, title: str, language: str = "zh",
                     running_header: str | None = None) -> str:
    """Render an executed notebook as one offline HTML page without code.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (version 4). It is not modified.
    title : str
        The page title (``<title>``); the template HTML-escapes it.
    language : str, default "zh"
        The ``lang`` attribute of the page, so browsers pick Chinese fonts.
    running_header : str, optional
        Printed at the top of every page (default: ``title``).

    Returns
    -------
    str
        The whole HTML document: CSS inline, images as ``data:`` URIs, no scripts loaded
        from the network, no input cells or prompts. Printed (``assets/report.css``): A4,
        every table and chart within the page width, each section on a new page, the
        running header on top and page numbers at the bottom of every page.

    Notes
    -----
    Uses nbconvert's ``HTMLExporter`` with the ``lab`` template and
    ``exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True``
    (the equivalent of ``jupyter nbconvert --to html --no-input``), with the CDN
    ``<script>`` blocks (require.js, MathJax, Mermaid, widgets) removed.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook()
    >>> cell = nbformat.v4.new_code_cell("print('secret code')")
    >>> cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="青河镇\\n")]
    >>> nb.cells = [nbformat.v4.new_markdown_cell("# 报告"), cell]
    >>> page = notebook_to_html(nb, title="青河镇 2026-11")
    >>> "青河镇" in page, "secret code" in page, external_links(page)
    (True, False, [])
    """
    exporter = _exporter(language)
    resources = {"metadata": {"name": title}, "pingan_css": _css(),
                 "pingan_page_css": page_css(running_header or _running_header(nb, title))}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def external_links(page: str) -> list[str]:
    """The ``src=``/``href=`` attributes of ``page`` that point to the network.

    An offline report must have none; tests and the batch check this.

    Examples
    --------
    >>> external_links('<img src="data:image/png;base64,AAA"><a href="https://x.org">x</a>')
    ['href="https://']
    """
    return [m.group(0) for m in _EXTERNAL_RE.finditer(page)]


def _running_header(nb: nbformat.NotebookNode, title: str) -> str:
    """County · township · month · what the page is, from the notebook's papermill
    parameters (``township``, ``period``, ``plan_path``); else ``title``."""
    from pingan_eval.errors import PinganEvalError
    from pingan_eval.report.formatting import period_zh

    params = nb.metadata.get("papermill", {}).get("parameters", {})
    period = params.get("period")
    if not isinstance(period, str) or not re.fullmatch(r"\d{4}-\d{2}", period):
        return title
    try:
        county = _county(params.get("plan_path") or None)
    except (PinganEvalError, OSError, ValueError):
        county = None
    township = params.get("township")
    parts = [county, township if isinstance(township, str) else None, period_zh(period),
             title.split()[-1] if title.split() else None]
    return " · ".join(dict.fromkeys(p for p in parts if p))


@lru_cache(maxsize=8)
def _county(plan_path: str | None) -> str:
    from pingan_eval.plan import load_plan

    return (load_plan(plan_path) if plan_path else load_plan()).county


@lru_cache(maxsize=1)
def _css() -> str:
    return CSS_PATH.read_text(encoding="utf-8")


def page_css(header: str) -> str:
    """The ``@page`` rule that prints ``header`` at the top of every page (a CSS string:
    quotes, backslashes and angle brackets escaped, so no name can end the rule).

    Examples
    --------
    >>> page_css("青河县 青河镇 2026年11月")
    '@page { @top-center { content: "青河县 青河镇 2026年11月"; font-size: 8pt; color: #52606d; } }'
    >>> "</style>" in page_css("</style>")
    False
    """
    text = re.sub(r"\s+", " ", header).strip()
    quoted = "".join(f"\\{ord(c):x} " if c in '"\\<>' else c for c in text)
    return (f'@page {{ @top-center {{ content: "{quoted}"; font-size: 8pt; '
            f"color: #52606d; }} }}")
