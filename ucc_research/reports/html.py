"""The reviewers' HTML page of an executed notebook: code hidden, self-contained, navigable.

nbconvert renders the notebook with the ``ucc_report`` template (JupyterLab's look without its
CDN scripts); then the page gets its title (the report's own ``<h1>``, e.g. the city's name), a
bar linking back to the study's index and to each section, and print CSS so a city report
prints as a factsheet.
"""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path
from typing import Any

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_LOCAL = threading.local()


def _exporter() -> Any:
    # one per thread: building the exporter loads its templates, and exporters keep state
    # while they render, so threads (Dask workers) do not share one
    if not hasattr(_LOCAL, "exporter"):
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        config = Config()  # cells tagged "lab-only" speak to the researcher, not the reviewer
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = {"lab-only"}
        _LOCAL.exporter = HTMLExporter(
            config=config,
            template_name="ucc_report",
            extra_template_basedirs=[str(_TEMPLATES)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
        )
    return _LOCAL.exporter


_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
_H2 = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', re.S)
_TAGS = re.compile(r"<[^>]+>")


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment (nbconvert's pilcrow anchors removed)."""
    return html.unescape(_TAGS.sub("", fragment)).replace("¶", "").strip()


def render(nb: Any, title: str, index_href: str | None = "index.html") -> str:
    """Render an executed notebook as one self-contained page with the code hidden.

    Parameters
    ----------
    nb : the executed notebook (nbformat node).
    title : page title used when the report shows no ``<h1>`` of its own.
    index_href : the link back to the study's index (None for no link).
    """
    css = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
    body, _ = _exporter().from_notebook_node(
        nb, resources={"metadata": {"name": title}, "ucc_css": css}
    )
    h1 = _H1.search(body)
    page_title = _text(h1.group(1)) if h1 else title
    body = re.sub(
        r"<title>.*?</title>",
        f"<title>{html.escape(page_title)}</title>",
        body,
        count=1,
        flags=re.S,
    )
    links = []
    if index_href:
        links.append(f'<a href="{html.escape(index_href, quote=True)}">&larr; All reports</a>')
    sections = [
        f'<li><a href="#{html.escape(i, quote=True)}">{html.escape(_text(t))}</a></li>'
        for i, t in _H2.findall(body)
    ]
    if sections:
        links.append(f"<ol>{''.join(sections)}</ol>")
    nav = f'<nav class="ucc-nav" aria-label="Contents">{" ".join(links)}</nav>'
    return body.replace("<main>", f"<main>\n{nav}", 1)
