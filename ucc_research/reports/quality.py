"""The data-quality report: what was read, kept and quarantined for the study's tables, and why.

Reads ``data/processed/quality.json`` and ``data/processed/quarantine/<table>.parquet`` written
by ``ucc prepare``; every raw row is either kept or quarantined with its reason.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from ucc_research import config
from ucc_research.reports.context import ReportContext, open_context, shown_if_applicable
from ucc_research.reports.display import Findings, Group, NotShown, Text
from ucc_research.reports.shared import NotApplicable

STEM = "data_quality"


def open_report(study: Any, shared_dir: str | None = None) -> ReportContext:
    """Open the data-quality report (first cell of ``data_quality.ipynb``)."""
    ctx = open_context(study, STEM, shared_dir, {})
    ctx.results["report"] = "Data quality"
    return ctx


def _wanted_sources(ctx: ReportContext) -> set[str]:
    """Sources the study's row filters select (empty: every source of its tables)."""
    out: set[str] = set()
    for f in ctx.study.filters.values():
        src = f.get("source")
        out.update(src if isinstance(src, list) else [src] if src else [])
    return out


def _files(ctx: ReportContext) -> pd.DataFrame:
    def compute():
        path = config.processed_dir() / "quality.json"
        if not path.is_file():
            return NotApplicable("quality.json is missing; run `ucc prepare`")
        q = json.loads(path.read_text(encoding="utf-8"))
        wanted, rows = _wanted_sources(ctx), []
        for src, info in q.get("sources", {}).items():
            tables = set(info.get("tables", []))
            if (wanted and src not in wanted) or (
                not wanted and not tables & set(ctx.study.tables)
            ):
                continue
            for f, fi in info.get("files", {}).items():
                rows.append(
                    {
                        "source": src,
                        "file": f,
                        "rows read": fi["rows_in"],
                        "rows kept": fi["rows_kept"],
                        "rows quarantined": fi["rows_quarantined"],
                        "synthetic": "yes" if info.get("synthetic") else "no",
                    }
                )
        if not rows:
            return NotApplicable("no source of this study is in quality.json")
        return pd.DataFrame(rows)

    out = ctx.memo("files", compute)
    if isinstance(out, NotApplicable):
        raise out
    return out


def _quarantine(ctx: ReportContext) -> pd.DataFrame:
    frames = []
    for t in ctx.study.tables:
        p = config.processed_dir() / "quarantine" / f"{t}.parquet"
        if p.is_file():
            frames.append(pd.read_parquet(p))
    q = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    wanted = _wanted_sources(ctx)
    if wanted and not q.empty:  # tables shared by several sources: only the study's
        q = q[q["source"].isin(wanted)]
    return q


@shown_if_applicable
def key_findings(ctx: ReportContext) -> Findings | NotShown:
    """How much was read, kept and quarantined, and the commonest reason."""
    files = _files(ctx)
    read, kept = int(files["rows read"].sum()), int(files["rows kept"].sum())
    quar = int(files["rows quarantined"].sum())
    s = [
        Text(
            "<strong>{r}</strong> raw rows were read from {f} file(s) of {n} source(s): {k} "
            "kept and {q} quarantined ({pct}%); none was dropped without a record.",
            r=read,
            f=len(files),
            n=files["source"].nunique(),
            k=kept,
            q=quar,
            pct=100 * quar / read if read else 0.0,
        )
    ]
    q = _quarantine(ctx)
    if len(q):
        top = q.groupby(["table", "column", "reason"], dropna=False).size().sort_values().index[-1]
        s.append(
            Text(
                "The commonest reason: {reason} (table {t}, column {c}).",
                reason=top[2],
                t=top[0],
                c=top[1],
            )
        )
    synth = files[files["synthetic"] == "yes"]
    if len(synth):
        s.append(Text("{n} of the files are SYNTHETIC (generated demo data).", n=len(synth)))
    ctx.record("key_findings", [str(t) for t in s])
    ctx.headline(answer=str(s[0]))
    ctx.headline(**{"rows read": read, "quarantined": quar})
    return Findings(s, synthetic=ctx.study.synthetic)


@shown_if_applicable
def files_read(ctx: ReportContext):
    """Every file read, with its rows read, kept and quarantined."""
    files = _files(ctx)
    ctx.uses("quality")
    ctx.record("files", files.to_dict(orient="records"))
    return ctx.table(files, "Files read", note="rows read = rows kept + rows quarantined.")


def quarantined(ctx: ReportContext):
    """Quarantined rows by table, column and reason."""
    q = _quarantine(ctx)
    ctx.record("quarantine", {"n": int(len(q))})
    if q.empty:
        return Text("No row of the study's tables was quarantined.")
    tab = (
        q.groupby(["table", "column", "reason"], dropna=False)
        .size()
        .rename("rows")
        .reset_index()
        .sort_values("rows", ascending=False)
    )
    ctx.record("quarantine", {"n": int(len(q)), "by_reason": tab.to_dict(orient="records")})
    return Group(
        [
            Text(
                "{n} rows quarantined; each record in data/processed/quarantine/ names its file, "
                "line, column and reason.",
                n=len(q),
            ),
            ctx.table(tab, "Quarantined rows by reason"),
        ]
    )
