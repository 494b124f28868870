"""``index.html``: the study's front page: what each report answers, every unit by name.

The cross-city reports are listed with their answer (their first key finding); the unit reports
in a table with one row per unit (its name, then its headline numbers: published score and rank
first where the source publishes them), sortable by any column with a small inline script (the
page stays self-contained: no request leaves it).

Every name that comes from data (unit names, error messages, headline labels) is escaped with
:func:`ucc_research.reports.display.esc`, and every link is percent-encoded, so a hostile city name
shows as text.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ucc_research import io
from ucc_research.reports.display import esc, fmt_number
from ucc_research.reports.study import Study

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;
color:#222;padding:0 1em;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}th button{all:unset;cursor:pointer;font-weight:bold}
th button::after{content:" \\2195";color:#888}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.failed{color:#b00;font-weight:bold}.ok{color:#070}
.synthetic{background:#fff3cd;border:1px solid #e0b000;padding:.5em;font-weight:bold}
.wrap{overflow-x:auto}
"""

# Sort a table by the clicked column (numbers numerically, blanks last); no external code.
_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th button").forEach(function (button, col) {
    button.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var dir = button.dataset.dir === "asc" ? -1 : 1;
      button.dataset.dir = dir === 1 ? "asc" : "desc";
      function key(row) {
        var t = row.cells[col].dataset.sort || row.cells[col].textContent.trim();
        var n = parseFloat(t.replace(/,/g, ""));
        return t === "" ? null : (isNaN(n) ? t.toLowerCase() : n);
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null) return 1; if (y === null) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

_REPORT_NAMES = {
    "what_works": "What works",
    "transfer_impact": "Transfer impact",
    "index_robustness": "Index robustness",
    "data_quality": "Data quality",
}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt_number(value)
    return str(value)


def _link(href: str | None, text: str) -> str:
    if not href:
        return esc(text)
    return f'<a href="{esc(quote(href))}">{esc(text)}</a>'


def _cell(value: Any) -> str:
    num = isinstance(value, (int, float)) and not isinstance(value, bool)
    sort = f' data-sort="{esc(repr(float(value)))}"' if num and not math.isnan(float(value)) else ""
    return f"<td{' class=num' if num else ''}{sort}>{esc(_fmt(value))}</td>"


def render_index(study: Study, manifest: dict[str, Any]) -> str:
    """The HTML of ``index.html`` for a run manifest (see :func:`ucc_research.reports.runner`)."""
    reports = [r for r in (manifest.get("reports") or {}).values() if isinstance(r, dict)]
    failed = [r for r in reports if r.get("status") != "ok"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(study.title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{esc(study.title)}</h1>",
    ]
    if study.synthetic:
        parts.append(
            "<p class='synthetic'>SYNTHETIC DATA: these reports are built from a generated demo "
            "panel of fictional cities, not from real measurements.</p>"
        )
    if study.description:
        parts.append(f"<p>{esc(study.description)}</p>")
    parts.append(
        f"<p>{len(reports) - len(failed)} of {len(reports)} reports succeeded. Sources: "
        f"{esc(', '.join(study.sources) or 'n/a')}; data fingerprint "
        f"<code>{esc(str(manifest.get('data_fingerprint', ''))[:16])}</code>; package version "
        f"{esc(str(manifest.get('package_version')))}.</p>"
    )
    parts += _failures(manifest, failed)
    parts += _cross_city(reports)
    parts += _units(study, reports)
    parts.append(
        "<p>Full-precision numbers: <code>results/&lt;report&gt;.json</code>; every table of a "
        "report as CSV: <code>csv/&lt;report&gt;/</code>; parameters, fingerprints and timings: "
        "<a href='run.json'>run.json</a>.</p>"
    )
    parts.append(f"</main><script>{_SORT_JS}</script></body></html>")
    return "\n".join(parts)


def _failures(manifest: dict[str, Any], failed: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    analysis_failures = [f for f in manifest.get("analysis_failures") or [] if isinstance(f, dict)]
    if analysis_failures:
        out.append("<h2 class='failed'>Failed study-level analyses</h2><ul>")
        out.extend(
            f"<li class='failed'>{esc(str(f.get('section')))}: "
            f"<code>{esc(str(f.get('error')))}</code></li>"
            for f in analysis_failures
        )
        out.append("</ul><p>No report was run: fix the analysis and run the study again.</p>")
    if failed:
        out.append("<h2 class='failed'>Failed reports</h2><ul>")
        for r in failed:
            label = r.get("unit") if r.get("unit") is not None else r.get("notebook")
            out.append(
                f"<li>{_link(r.get('html'), str(label))} ({esc(str(r.get('notebook')))}): "
                f"<code>{esc(str(r.get('error', '')))}</code></li>"
            )
        out.append("</ul>")
    return out


def _cross_city(reports: list[dict[str, Any]]) -> list[str]:
    cross = [r for r in reports if r.get("kind") == "study" and r.get("status") == "ok"]
    if not cross:
        return []
    out = ["<h2>Cross-city reports</h2><ul>"]
    for r in cross:
        name = _REPORT_NAMES.get(str(r.get("notebook")), str(r.get("notebook")))
        answer = (r.get("headline") or {}).get("answer", "")
        out.append(f"<li>{_link(r.get('html'), name)}{': ' + esc(answer) if answer else ''}</li>")
    out.append("</ul>")
    return out


#: Index columns in reading order: the published figures first (JSON stores keys sorted).
_COLUMN_ORDER = (
    "published score",
    "published rank",
    "score",
    "rank",
    "rank interval",
    "digital share %",
    "65+ gap pp",
)


def _units(study: Study, reports: list[dict[str, Any]]) -> list[str]:
    units = [r for r in reports if r.get("kind") == "city" and r.get("status") == "ok"]
    if not units:
        return []
    names = study.unit_names()
    seen = {k for r in units for k in (r.get("headline") or {}) if k != "answer"}
    labels = [k for k in _COLUMN_ORDER if k in seen] + sorted(seen - set(_COLUMN_ORDER))
    label = study.unit_label
    out = [
        f"<h2>{esc(label.capitalize())} reports</h2>",
        f"<p>{len(units)} {esc(label)} reports; click a column heading to sort.</p>",
        "<div class='wrap'><table class='sortable'><thead><tr>",
        f"<th scope='col'><button type='button'>{esc(label)}</button></th>",
    ]
    out += [f"<th scope='col'><button type='button'>{esc(k)}</button></th>" for k in labels]
    out.append("</tr></thead><tbody>")
    # official order first: by published rank where the source publishes one, else by rank
    by = next((k for k in ("published rank", "rank") if k in labels), None)

    def order(r: dict[str, Any]) -> tuple:
        rank = (r.get("headline") or {}).get(by) if by else None
        name = names.get(str(r.get("unit")), str(r.get("unit"))).lower()
        return (rank is None, rank if isinstance(rank, (int, float)) else 0, name)

    rows = sorted(units, key=order)
    for r in rows:
        head = r.get("headline") or {}
        name = names.get(str(r.get("unit")), str(r.get("unit")))
        out.append(f"<tr><td>{_link(r.get('html'), name)}</td>")
        out += [_cell(head.get(k)) for k in labels]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return out


def write_index(path: str | Path, study: Study, manifest: dict[str, Any]) -> Path:
    """Write ``index.html`` atomically."""
    return io.write_text(path, render_index(study, manifest))
