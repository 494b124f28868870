"""``index.html``: one page listing every report of a run, its headline numbers and links.

Every name that comes from data (city ids, error messages, headline labels) is escaped with
:func:`html.escape`, and every link is percent-encoded, so a hostile city name shows as text.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ucc_research import io
from ucc_research.reports.study import Study

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}.failed{color:#b00;font-weight:bold}.ok{color:#070}
.synthetic{background:#fff3cd;border:1px solid #e0b000;padding:.5em;font-weight:bold}
td.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:,.2f}"
    return str(value)


def _link(href: str | None, text: str) -> str:
    if not href:
        return html.escape(text)
    return f'<a href="{html.escape(quote(href), quote=True)}">{html.escape(text)}</a>'


def render_index(study: Study, manifest: dict[str, Any]) -> str:
    """The HTML of ``index.html`` for a run manifest (see :func:`ucc_research.reports.runner`)."""
    e = html.escape
    reports = list(manifest.get("reports", {}).values())
    failed = [r for r in reports if r.get("status") != "ok"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(study.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(study.title)}</h1>",
    ]
    if study.synthetic:
        parts.append(
            "<p class='synthetic'>SYNTHETIC DATA: these reports are built from a generated demo "
            "panel of fictional cities, not from real measurements.</p>"
        )
    parts.append(
        f"<p>Study <code>{e(study.name)}</code>, package version {e(str(manifest.get('package_version')))}, "
        f"data fingerprint <code>{e(str(manifest.get('data_fingerprint', ''))[:16])}</code>, "
        f"sources: {e(', '.join(study.sources) or 'n/a')}. "
        f"{len(reports) - len(failed)} of {len(reports)} reports succeeded.</p>"
    )
    analysis_failures = manifest.get("analysis_failures") or []
    if analysis_failures:
        parts.append("<h2 class='failed'>Failed study-level analyses</h2><ul>")
        parts.extend(
            f"<li class='failed'>{e(str(f.get('section')))}: <code>{e(str(f.get('error')))}</code>"
            "</li>"
            for f in analysis_failures
        )
        parts.append("</ul><p>No report was run: fix the analysis and run the study again.</p>")
    if failed:
        parts.append("<h2 class='failed'>Failed reports</h2><ul>")
        for r in failed:
            label = r.get("unit") if r.get("unit") is not None else r.get("notebook")
            parts.append(
                f"<li>{_link(r.get('html'), str(label))} ({e(str(r.get('notebook')))}): "
                f"<code>{e(str(r.get('error', '')))}</code></li>"
            )
        parts.append("</ul>")
    cross = [r for r in reports if r.get("kind") == "study"]
    if cross:
        parts.append(
            "<h2>Cross-city reports</h2><table><tr><th>report</th><th>status</th>"
            "<th>seconds</th></tr>"
        )
        for r in cross:
            status = r.get("status", "")
            parts.append(
                f"<tr><td>{_link(r.get('html'), str(r.get('notebook')))}</td>"
                f"<td class='{e(status)}'>{e(status)}</td>"
                f"<td class='num'>{e(_fmt(r.get('seconds')))}</td></tr>"
            )
        parts.append("</table>")
    cities = [r for r in reports if r.get("kind") == "city"]
    if cities:
        names = study.unit_names()
        labels: list[str] = []
        for r in cities:
            for k in r.get("headline") or {}:
                if k not in labels:
                    labels.append(k)
        parts.append(f"<h2>{e(study.unit_label.capitalize())} reports</h2><table><tr>")
        parts.append(f"<th>{e(study.unit_label)}</th><th>report</th><th>status</th>")
        parts.extend(f"<th>{e(k)}</th>" for k in labels)
        parts.append("</tr>")
        for r in cities:
            status = r.get("status", "")
            head = r.get("headline") or {}
            parts.append(
                f"<tr><td>{e(study.unit_display(str(r.get('unit')), names))}</td>"
                f"<td>{_link(r.get('html'), str(r.get('notebook')))}</td>"
                f"<td class='{e(status)}'>{e(status)}</td>"
            )
            parts.extend(f"<td class='num'>{e(_fmt(head.get(k)))}</td>" for k in labels)
            parts.append("</tr>")
        parts.append("</table>")
    parts.append(
        "<p>Full-precision numbers: <code>results/&lt;report&gt;.json</code>; parameters, "
        "fingerprints and timings: <a href='run.json'>run.json</a>.</p></body></html>"
    )
    return "\n".join(parts)


def write_index(path: str | Path, study: Study, manifest: dict[str, Any]) -> Path:
    """Write ``index.html`` atomically."""
    return io.write_text(path, render_index(study, manifest))
