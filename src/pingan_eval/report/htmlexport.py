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
body.jp-Notebook {
  max-width: 1100px; margin: 0 auto; padding: 1.5em 1em;
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
               "WenQuanYi Micro Hei", sans-serif;
}
/* The rules here come before JupyterLab's, hence body.jp-Notebook to outrank them.
   JupyterLab lays tables out fixed (columns as wide as the header row): a column of long
   text is then squeezed to a letter; auto layout lets it wrap instead */
body.jp-Notebook .jp-RenderedHTMLCommon table {
  font-size: 0.95em; table-layout: auto; max-width: 100%;
}
.jp-OutputArea-output img { max-width: 100%; height: auto; }
@media print {
  body.jp-Notebook { max-width: none; padding: 0; }
  .jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow: visible !important; }
  body.jp-Notebook .jp-RenderedHTMLCommon table { font-size: 0.8em; }
  body.jp-Notebook .jp-RenderedHTMLCommon td, body.jp-Notebook .jp-RenderedHTMLCommon th {
    padding: 2px 4px !important;
  }
  tr, img { page-break-inside: avoid; }
}
</style>
{%- endblock extra_css -%}
"""

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


def notebook_to_html(nb: nbformat.NotebookNode, *, title: str, language: str = "zh") -> str:
    """Render an executed notebook as one offline HTML page without code.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (version 4). It is not modified.
    title : str
        The page title (``<title>``); the template HTML-escapes it.
    language : str, default "zh"
        The ``lang`` attribute of the page, so browsers pick Chinese fonts.

    Returns
    -------
    str
        The whole HTML document: CSS inline, images as ``data:`` URIs, no scripts loaded
        from the network, no input cells or prompts.

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
    resources = {"metadata": {"name": title}}
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
