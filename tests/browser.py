"""Open a local HTML report in headless Chromium and audit what a reviewer's browser does with it.

:func:`audit_page` loads one ``file://`` page in Debian's Chromium (``/usr/bin/chromium``, driven
by Playwright; Playwright never downloads a browser of its own here) and returns a
:class:`PageAudit`: the requests it tried, whether injected script ran, console errors, the visible
text, visible code cells, links, images, tables that overflow the viewport, the title and the
element ids. One browser serves the whole process (:func:`browser_session`, closed at exit or by
the ``chromium`` fixture in ``tests/conftest.py``); each audit gets a fresh context and one page.

Network. Every request is intercepted before it leaves the browser. The page itself and files
under the page's own folder load; everything else (``http(s)://``, files outside the folder,
``ws://``) is aborted and recorded in :attr:`PageAudit.blocked_requests`. ``data:`` URLs are not
requests and are not listed. A page that tries to leave itself (meta refresh, ``location=``) is
kept where it is and the target listed in :attr:`PageAudit.navigations`.

Injected script. The hostile payloads in ``tests/hostile.py`` signal by calling
``window.__pwned(tag)``, by opening a dialog (``alert``/``confirm``/``prompt``) or by writing
``document.title``. An init script, run in every frame before the page's own scripts, defines
``window.__pwned`` and wraps the ``document.title`` setter so that each of these is reported to
Python (:attr:`PageAudit.xss_events`); dialogs are dismissed and listed in
:attr:`PageAudit.dialogs`. ``xss_fired`` is true when any of them happened. The parser setting
``<title>`` is not a write; a report's own inline scripts do not trigger it unless they write
the title. Markup that would run script on a user action (``on*=`` handler attributes,
``javascript:``/``vbscript:`` URLs) is listed in :attr:`PageAudit.unsafe_markup` whether or not
it fired.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

#: Debian's Chromium (``apt-get install chromium``); ``UCC_CHROMIUM`` overrides it.
CHROMIUM = "/usr/bin/chromium"

#: Flags for a quiet, offline, root-safe headless browser (Playwright adds ``--headless`` and a
#: fresh temporary ``--user-data-dir`` itself).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
)

#: nbconvert's alt text for every image output that has none of its own.
NBCONVERT_DEFAULT_ALT = "No description has been provided for this image"

_GENERIC_ALT = {
    "image",
    "img",
    "figure",
    "fig",
    "picture",
    "photo",
    "graph",
    "chart",
    "plot",
    "png",
    "svg",
    "untitled",
    "placeholder",
    "alt",
    "none",
    "null",
    "undefined",
}

#: Elements of code cells' inputs in nbconvert's lab and classic templates, and code editors.
#: (Markdown cells also sit in ``.jp-InputArea`` / ``.input_prompt``, hence the cell classes.)
CODE_SELECTORS = (
    ".jp-CodeCell .jp-InputArea",
    ".jp-CodeCell .jp-InputPrompt",
    ".jp-CodeCell .jp-InputArea div.highlight",
    ".code_cell .input_area",
    ".code_cell .input_prompt",
    ".code_cell .input_area div.highlight",
    ".CodeMirror",
    ".cm-editor",
)

# Lines that only Python source starts with (not a data frame's text or a number table).
_PYTHON_LINE = re.compile(
    r"""^\s*(?:
        from\s+[\w.]+\s+import\s
      | import\s+[A-Za-z_][\w.]*
      | (?:async\s+)?def\s+\w+\s*\(
      | class\s+\w+\s*[:(]
      | @[A-Za-z_][\w.]*
      | (?:for|while|if|elif|with|try|except)\b[^\n]*:\s*$
      | return\b
      | (?:print|display)\(
      | [A-Za-z_][\w.]*(?:\[[^\]\n]*\])?\s*=\s*[A-Za-z_][\w.]*\(
      | %{1,2}[a-z]\w*\s
    )""",
    re.VERBOSE | re.MULTILINE,
)

# Sentinel and hooks installed in every frame before the page's own scripts run.
_INIT_SCRIPT = r"""
(() => {
  const report = (kind, detail) => {
    try { window.__ucc_report(kind, String(detail).slice(0, 300)); } catch (e) {}
  };
  Object.defineProperty(window, "__pwned", {
    value: (...args) => report("__pwned", args.map(String).join(" ")),
    writable: false, configurable: false,
  });
  const title = Object.getOwnPropertyDescriptor(Document.prototype, "title");
  Object.defineProperty(Document.prototype, "title", {
    configurable: false,
    get() { return title.get.call(this); },
    set(value) { report("document.title", value); title.set.call(this, value); },
  });
})();
"""

# Everything measured on the loaded page, in one round trip.
_COLLECT_SCRIPT = r"""
() => {
  const vw = document.documentElement.clientWidth;
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 &&
      el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  };
  const text = (el) => (el.innerText || el.textContent || "").trim();
  const codeSelectors = CODE_SELECTORS;
  const codeRoots = codeSelectors.join(",");
  const code = [];
  for (const sel of codeSelectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (shown(el)) code.push({selector: sel, text: text(el).slice(0, 300), python: false});
    }
  }
  for (const el of document.querySelectorAll("pre")) {
    if (el.closest(codeRoots)) continue;
    if (shown(el)) code.push({selector: "pre", text: text(el).slice(0, 2000), python: true});
  }
  const pageDoc = location.href.split("#")[0];
  const links = [...document.querySelectorAll("a[href]")].map((a) => {
    const url = a.href;
    let fragment = null, samePage = false, targetFound = false;
    const hash = url.indexOf("#");
    if (hash >= 0) {
      fragment = url.slice(hash + 1);
      samePage = url.slice(0, hash) === pageDoc;
      if (samePage) {
        let id = fragment;
        try { id = decodeURIComponent(fragment); } catch (e) {}
        targetFound = id === "" || id.toLowerCase() === "top" ||
          document.getElementById(id) !== null || document.getElementsByName(id).length > 0;
      }
    }
    return {href: a.getAttribute("href"), url, text: text(a).slice(0, 200), fragment,
            samePage, targetFound};
  });
  const images = [...document.querySelectorAll("img")].map((img) => ({
    src: (img.getAttribute("src") || "").slice(0, 200),
    alt: img.getAttribute("alt"),
    loaded: img.complete && img.naturalWidth > 0,
  }));
  const tables = [];
  document.querySelectorAll("table").forEach((t, i) => {
    const r = t.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    // the nearest ancestor that does not let its content overflow decides
    let scroller = null, clipper = null;
    for (let p = t.parentElement; p && p !== document.body && p !== document.documentElement;
         p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === "auto" || ox === "scroll") { scroller = p; break; }
      if (ox === "hidden" || ox === "clip") { clipper = p; break; }
    }
    let problem = null;
    if (scroller) {
      const s = scroller.getBoundingClientRect();
      if (s.right > vw + 1 || s.left < -1) problem = "its scrolling container is wider than the viewport";
    } else if (clipper && r.width > clipper.clientWidth + 1) {
      problem = "cut off by an overflow:hidden container";
    } else if (r.right > vw + 1 || r.left < -1) {
      problem = "wider than the viewport and not in a horizontally scrollable container";
    }
    if (problem) {
      const cap = t.querySelector("caption");
      const first = t.querySelector("tr");
      tables.push({index: i, width: r.width, right: r.right, problem,
                   label: text(cap || first || t).slice(0, 120)});
    }
  });
  const unsafe = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value;
      const squashed = value.replace(/[\u0000-\u0020]/g, "").toLowerCase();
      if (name.startsWith("on")) {
        unsafe.push({tag: el.tagName.toLowerCase(), attribute: name, value: value.slice(0, 200)});
      } else if (["href", "src", "action", "formaction", "xlink:href", "data", "srcdoc",
                  "content"].includes(name) &&
                 (squashed.startsWith("javascript:") || squashed.startsWith("vbscript:") ||
                  squashed.includes("url=javascript:") || name === "srcdoc")) {
        unsafe.push({tag: el.tagName.toLowerCase(), attribute: name, value: value.slice(0, 200)});
      }
    }
  }
  return {
    title: document.title,
    text: document.body ? document.body.innerText : "",
    ids: [...document.querySelectorAll("[id]")].map((e) => e.id),
    headings: [...document.querySelectorAll("h1, h2, h3")].map((h) => [h.tagName, text(h)]),
    code, links, images, tables, unsafe,
    scrollWidth: document.documentElement.scrollWidth, viewportWidth: vw,
  };
}
"""


@dataclass(frozen=True)
class Request:
    """A request the page tried and the harness blocked."""

    url: str
    resource_type: str


@dataclass(frozen=True)
class XssEvent:
    """Script that ran and signalled: ``kind`` is ``__pwned``, ``document.title`` or ``dialog``."""

    kind: str
    detail: str


@dataclass(frozen=True)
class Link:
    """One ``<a href>``: ``kind`` is fragment, file, external, mailto or unsafe."""

    href: str
    url: str
    text: str
    kind: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Image:
    """One ``<img>``: its ``alt`` (None when the attribute is missing) and whether it means something."""

    src: str
    alt: str | None
    meaningful: bool
    loaded: bool


@dataclass(frozen=True)
class CodeBlock:
    """A visible piece of code: nbconvert input markup (``selector``) or Python in a ``<pre>``."""

    selector: str
    text: str


@dataclass(frozen=True)
class TableOverflow:
    """A table that does not fit the viewport (``index`` counts the page's tables from 0)."""

    index: int
    width: float
    right: float
    problem: str
    label: str


@dataclass(frozen=True)
class PageAudit:
    """What headless Chromium saw on one page (see :func:`audit_page`)."""

    path: Path
    url: str
    width: int
    title: str
    text: str
    ids: frozenset[str]
    headings: tuple[tuple[str, str], ...]
    blocked_requests: tuple[Request, ...]
    navigations: tuple[str, ...]
    local_requests: tuple[str, ...]
    xss_events: tuple[XssEvent, ...]
    dialogs: tuple[XssEvent, ...]
    unsafe_markup: tuple[dict[str, str], ...]
    console_errors: tuple[str, ...]
    page_errors: tuple[str, ...]
    code_blocks: tuple[CodeBlock, ...]
    links: tuple[Link, ...]
    images: tuple[Image, ...]
    overflowing_tables: tuple[TableOverflow, ...]
    scroll_width: int = 0

    @property
    def xss_fired(self) -> bool:
        """True when injected script signalled (``__pwned``, a dialog or a title write)."""
        return bool(self.xss_events or self.dialogs)

    @property
    def code_visible(self) -> bool:
        return bool(self.code_blocks)

    @property
    def broken_links(self) -> tuple[Link, ...]:
        return tuple(link for link in self.links if not link.ok)

    @property
    def external_links(self) -> tuple[str, ...]:
        return tuple(link.url for link in self.links if link.kind == "external")

    @property
    def images_without_meaningful_alt(self) -> tuple[Image, ...]:
        return tuple(img for img in self.images if not img.meaningful)

    def has_id(self, element_id: str) -> bool:
        """Whether the page has an element with this id (e.g. ``"key-findings"``)."""
        return element_id in self.ids

    def problems(self) -> list[str]:
        """One line per rule the page breaks; empty for a clean page.

        Rules: no request beyond the page's folder, no injected script, no ``on*=`` or
        ``javascript:`` markup, no console or script errors, no visible code, every link resolves
        (external links are listed, not fetched), every image has a meaningful alt text, every
        table fits the viewport or scrolls inside its own container.
        """
        out = [f"blocked request ({r.resource_type}): {r.url}" for r in self.blocked_requests]
        out += [f"the page tried to leave itself for {u}" for u in self.navigations]
        out += [f"script ran: {e.kind} {e.detail!r}" for e in self.xss_events]
        out += [f"dialog opened: {d.kind} {d.detail!r}" for d in self.dialogs]
        out += [
            f"unsafe markup: <{m['tag']} {m['attribute']}={m['value']!r}>"
            for m in self.unsafe_markup
        ]
        out += [f"console error: {m}" for m in self.console_errors]
        out += [f"script error: {m}" for m in self.page_errors]
        out += [f"visible code ({c.selector}): {c.text[:80]!r}" for c in self.code_blocks]
        out += [f"broken link {link.href!r}: {link.reason}" for link in self.broken_links]
        out += [
            f"image without meaningful alt text: {img.src[:80]!r} (alt={img.alt!r})"
            for img in self.images_without_meaningful_alt
        ]
        out += [
            f"table {t.index} ({t.label[:40]!r}, {t.width:.0f} px): {t.problem}"
            for t in self.overflowing_tables
        ]
        return out

    def summary(self) -> str:
        """A short text: the page, its title, counts, and each problem on its own line."""
        problems = self.problems()
        head = (
            f"{self.path} at {self.width} px: title {self.title!r}, {len(self.links)} links, "
            f"{len(self.images)} images, {len(self.local_requests)} local loads, "
            f"{len(problems)} problems"
        )
        return "\n".join([head, *(f"  - {p}" for p in problems)])


def alt_is_meaningful(alt: str | None) -> bool:
    """Whether an ``alt`` text tells a reader something.

    Missing, empty, nbconvert's default, a generic word ("image", "figure") or a file name are not.

    Examples
    --------
    >>> alt_is_meaningful("Ghent ranks 5th of 11 (75 %), tied with Milan")
    True
    >>> alt_is_meaningful("No description has been provided for this image")
    False
    >>> [alt_is_meaningful(a) for a in (None, "", "  ", "Figure", "plot.png")]
    [False, False, False, False, False]
    """
    if alt is None:
        return False
    norm = " ".join(alt.split()).strip(" .:").lower()
    if not norm or norm == NBCONVERT_DEFAULT_ALT.lower():
        return False
    if norm in _GENERIC_ALT or re.fullmatch(r"(?:image|figure|fig\.?|plot|chart)\s*\d*", norm):
        return False
    return re.fullmatch(r"[\w\-. ]+\.(?:png|jpe?g|gif|svg|webp)", norm) is None


def looks_like_python(text: str) -> bool:
    """Whether a block of text has a line that only Python source would start with.

    Examples
    --------
    >>> looks_like_python("import pandas as pd\\ndf = pd.read_parquet(path)")
    True
    >>> looks_like_python("   city  score\\n0  Ghent   75.0\\n1  Milan   75.0")
    False
    """
    return _PYTHON_LINE.search(text) is not None


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and (name == "id" or (name == "name" and tag == "a")):
                self.ids.add(value)


def _ids_in_file(path: Path) -> set[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.ids


def _file_url_path(url: str) -> Path:
    return Path(url2pathname(unquote(urlsplit(url).path)))


def _within(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def _classify_link(raw: dict[str, Any], ids: dict[Path, set[str]]) -> Link:
    href, url, text = raw["href"], raw["url"], raw["text"]
    scheme = urlsplit(url).scheme.lower()

    def link(kind: str, ok: bool, reason: str = "") -> Link:
        return Link(href=href, url=url, text=text, kind=kind, ok=ok, reason=reason)

    if raw["samePage"]:
        if raw["targetFound"]:
            return link("fragment", True)
        return link("fragment", False, f"no element with id {unquote(raw['fragment'])!r}")
    if scheme in ("http", "https"):
        return link("external", True)
    if scheme == "mailto":
        return link("mailto", True)
    if scheme != "file":
        return link("unsafe", False, f"{scheme}: URL (a report links only to files and http(s))")
    stripped = href.strip()
    if stripped.lower().startswith("file:") or stripped.startswith(("/", "\\")):
        return link("file", False, "absolute local path (breaks when the folder is moved)")
    target = _file_url_path(url)
    if target.is_dir() and (target / "index.html").is_file():
        target = target / "index.html"
    if not target.is_file():
        return link("file", False, f"no file {target}")
    fragment = raw["fragment"]
    if fragment and target.suffix.lower() in (".html", ".htm"):
        if target not in ids:  # each linked page is parsed once per audit
            ids[target] = _ids_in_file(target)
        if unquote(fragment) not in ids[target]:
            return link(
                "file", False, f"{target.name} has no element with id {unquote(fragment)!r}"
            )
    return link("file", True)


def _console_error(message: Any, out: list[str]) -> None:
    # a request the harness blocked is listed in blocked_requests; its console echo is not news
    if message.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in message.text:
        out.append(message.text)


class BrowserSession:
    """One headless Chromium driven by Playwright; :meth:`audit` opens one page per call.

    Parameters
    ----------
    executable : the Chromium binary (default ``UCC_CHROMIUM`` or ``/usr/bin/chromium``).
    """

    def __init__(self, executable: str | os.PathLike[str] | None = None) -> None:
        exe = Path(executable or os.environ.get("UCC_CHROMIUM") or CHROMIUM)
        if not exe.is_file():
            raise FileNotFoundError(
                f"Chromium not found at {exe}: install Debian's package "
                "(`apt-get install chromium`; .ci/run does it) or set UCC_CHROMIUM"
            )
        from playwright.sync_api import sync_playwright

        self.executable = exe
        self._thread = threading.get_ident()
        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=str(exe), headless=True, args=list(CHROMIUM_ARGS)
            )
        except BaseException:
            self._pw.stop()
            raise

    def close(self) -> None:
        if self._pw is None:
            return
        try:
            self.browser.close()
        finally:
            self._pw.stop()
            self._pw = None

    def __enter__(self) -> BrowserSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._pw is None

    def audit(
        self,
        path: str | os.PathLike[str],
        width: int = 1280,
        *,
        height: int = 900,
        settle_ms: int = 100,
        load_timeout_s: float = 60.0,
        screenshot: str | os.PathLike[str] | None = None,
    ) -> PageAudit:
        """See :func:`audit_page`."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        if self.closed:
            raise RuntimeError("this browser session is closed")
        if threading.get_ident() != self._thread:
            raise RuntimeError("a BrowserSession is used from the thread that started it only")
        page_path = Path(path)
        if not page_path.is_file():
            raise FileNotFoundError(f"no HTML file at {page_path}")
        if not isinstance(width, int) or isinstance(width, bool) or not 200 <= width <= 10_000:
            raise ValueError(f"width must be an int of pixels in [200, 10000], got {width!r}")
        page_path = page_path.resolve()
        folder = page_path.parent
        url = page_path.as_uri()

        blocked: list[Request] = []
        navigations: list[str] = []
        local: list[str] = []
        events: list[XssEvent] = []
        dialogs: list[XssEvent] = []
        console: list[str] = []
        errors: list[str] = []

        def on_route(route: Any) -> None:
            req = route.request
            is_file = req.url.startswith("file:")
            is_local = is_file and _within(_file_url_path(req.url), folder)
            leaving = req.is_navigation_request() and req.frame.parent_frame is None
            if leaving and not (is_file and _file_url_path(req.url) == page_path):
                # the page tried to leave itself (meta refresh, location=...): cancel it
                # ("aborted" commits no error page, so the audited document stays)
                navigations.append(req.url)
                if not is_local:
                    blocked.append(Request(req.url, req.resource_type))
                route.abort("aborted")
            elif is_local:
                local.append(req.url)
                route.continue_()
            else:
                blocked.append(Request(req.url, req.resource_type))
                route.abort("blockedbyclient")

        def on_dialog(dialog: Any) -> None:
            dialogs.append(XssEvent(dialog.type, dialog.message))
            dialog.dismiss()

        context = self.browser.new_context(
            viewport={"width": width, "height": height},
            java_script_enabled=True,
            service_workers="block",
            accept_downloads=False,
        )
        try:
            context.set_default_timeout(30_000)
            context.expose_function(
                "__ucc_report", lambda k, d: None if k == "flush" else events.append(XssEvent(k, d))
            )
            context.add_init_script(_INIT_SCRIPT)
            context.route("**/*", on_route)
            # a WebSocket is answered by a mock that never connects to its server
            context.route_web_socket(
                re.compile(".*"), lambda ws: blocked.append(Request(ws.url, "websocket"))
            )
            page = context.new_page()
            page.on("dialog", on_dialog)
            page.on("console", lambda m: _console_error(m, console))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url, wait_until="commit")
            deadline = time.monotonic() + load_timeout_s
            while True:  # short waits, so a page that cancels its own load by leaving is seen
                try:
                    page.wait_for_load_state("load", timeout=250)
                    break
                except PlaywrightTimeoutError:
                    if navigations:  # it tried to leave, which stops its load: recorded
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{page_path} did not finish loading in {load_timeout_s} s"
                        ) from None
            page.evaluate(
                "ms => new Promise(r => requestAnimationFrame(() => setTimeout(r, ms)))",
                settle_ms,
            )
            script = _COLLECT_SCRIPT.replace("CODE_SELECTORS", repr(list(CODE_SELECTORS)))
            data = page.evaluate(script)
            # bindings are answered in the order they were called: once this one has come back,
            # every report made before it has reached `events`
            page.evaluate("() => window.__ucc_report('flush', '')")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=False)
        finally:
            context.close()

        linked_ids: dict[Path, set[str]] = {}
        code = tuple(
            CodeBlock(c["selector"], c["text"])
            for c in data["code"]
            if not c["python"] or looks_like_python(c["text"])
        )
        images = tuple(
            Image(i["src"], i["alt"], alt_is_meaningful(i["alt"]), i["loaded"])
            for i in data["images"]
        )
        return PageAudit(
            path=page_path,
            url=url,
            width=width,
            title=data["title"],
            text=data["text"],
            ids=frozenset(data["ids"]),
            headings=tuple((h[0], h[1]) for h in data["headings"]),
            blocked_requests=tuple(blocked),
            navigations=tuple(navigations),
            local_requests=tuple(local),
            xss_events=tuple(events),
            dialogs=tuple(dialogs),
            unsafe_markup=tuple(data["unsafe"]),
            console_errors=tuple(console),
            page_errors=tuple(errors),
            code_blocks=code,
            links=tuple(_classify_link(raw, linked_ids) for raw in data["links"]),
            images=images,
            overflowing_tables=tuple(TableOverflow(**t) for t in data["tables"]),
            scroll_width=int(data["scrollWidth"]),
        )


_SESSION: BrowserSession | None = None


def browser_session() -> BrowserSession:
    """The process's shared browser, started on first use and closed at exit."""
    global _SESSION
    if _SESSION is None or _SESSION.closed:
        _SESSION = BrowserSession()
        atexit.register(_SESSION.close)
    return _SESSION


def audit_page(
    path: str | os.PathLike[str],
    width: int = 1280,
    *,
    height: int = 900,
    settle_ms: int = 100,
    load_timeout_s: float = 60.0,
    screenshot: str | os.PathLike[str] | None = None,
) -> PageAudit:
    """Open a local HTML file in headless Chromium and report what it does.

    Parameters
    ----------
    path : the HTML file; it is opened as a ``file://`` URL. Files under its folder may load;
        every other request is blocked and recorded.
    width, height : the viewport in CSS pixels (tables are measured against ``width``).
    settle_ms : how long to wait after the ``load`` event for late script (timers, frames).
    load_timeout_s : how long the page may take to load before :class:`TimeoutError`.
    screenshot : when given, a PNG of the first screen is written there.

    Returns
    -------
    PageAudit
        ``problems()`` lists every rule broken; the fields hold the details.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file, or Chromium is not installed.
    TimeoutError
        When the page has not loaded after ``load_timeout_s``.
    ValueError
        When ``width`` is not a whole number of pixels in [200, 10000].

    Examples
    --------
    In a test (the ``chromium`` fixture of ``tests/conftest.py`` closes the browser)::

        audit = audit_page(out / "index.html")
        assert audit.problems() == []
        assert audit.has_id("key-findings")
    """
    return browser_session().audit(
        path,
        width,
        height=height,
        settle_ms=settle_ms,
        load_timeout_s=load_timeout_s,
        screenshot=screenshot,
    )
