"""The browser harness (tests/browser.py) on small handwritten pages: each check fires on a page
that breaks its rule and stays quiet on one that keeps it."""

from __future__ import annotations

import struct

import nbformat
import pytest
from nbconvert import HTMLExporter

from tests.browser import NBCONVERT_DEFAULT_ALT, Request, XssEvent, audit_page
from tests.hostile import HOSTILE_HOST, PAYLOADS, texts

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="teal"/></svg>'


def write(folder, body, *, name="page.html", head="", title="A page"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"{head}</head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


CLEAN = """
<h1>Ghent</h1>
<section id="key-findings"><h2>Key findings</h2>
<p>Ghent scores 75 % and ranks 5th of 11, tied with Milan.</p></section>
<p style="display:none">hidden sentence</p>
<p><img src="figures/score.svg" alt="Ghent's score, 75 %, beside the network median of 68 %"></p>
<p><a href="#key-findings">findings</a> <a href="other.html#method">method</a>
<a href="figures/">figures</a> <a href="https://example.org/">source</a>
<a href="mailto:team@example.org">mail</a></p>
<table><tr><th>city</th><th>score</th></tr><tr><td>Ghent</td><td>75</td></tr></table>
<div style="overflow-x:auto;max-width:100%"><table style="width:3000px"><tr><td>wide</td></tr></table></div>
<pre>   city  score
0  Ghent   75.0</pre>
<script>document.body.dataset.ready = "yes"; var x = 1 + 1;</script>
"""


def clean_site(folder):
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "score.svg").write_text(SVG)
    (folder / "figures" / "index.html").write_text("<p>figures</p>")
    write(folder, "<h2 id='method'>Method</h2>", name="other.html")
    return write(folder, CLEAN, title="Ghent: city report")


def test_a_clean_page_passes_every_check(tmp_path, chromium):
    audit = chromium.audit(clean_site(tmp_path))
    assert audit.problems() == []
    assert audit.title == "Ghent: city report"
    assert audit.has_id("key-findings") and not audit.has_id("no-such-id")
    assert "ranks 5th of 11" in audit.text and "hidden sentence" not in audit.text
    assert audit.external_links == ("https://example.org/",)
    assert {link.kind for link in audit.links} == {"fragment", "file", "external", "mailto"}
    assert [img.loaded for img in audit.images] == [True]
    assert (tmp_path / "figures" / "score.svg").as_uri() in audit.local_requests
    assert not audit.xss_fired and audit.dialogs == () and audit.unsafe_markup == ()
    assert audit.blocked_requests == () and audit.console_errors == () and not audit.code_visible
    assert audit.overflowing_tables == ()
    assert ("H2", "Key findings") in audit.headings


# --- network ---------------------------------------------------------------------------------


def test_a_remote_image_is_blocked_and_recorded(tmp_path, chromium):
    url = f"http://{HOSTILE_HOST}/chart.png"
    audit = chromium.audit(write(tmp_path, f'<img src="{url}" alt="Score by year, 2019-2024">'))
    assert audit.blocked_requests == (Request(url, "image"),)
    assert audit.images[0].loaded is False
    assert any(url in p for p in audit.problems())
    assert audit.console_errors == ()  # the browser's echo of a blocked request is not repeated


def test_a_missing_local_image_is_a_console_error(tmp_path, chromium):
    audit = chromium.audit(write(tmp_path, '<img src="figures/gone.svg" alt="Score by year">'))
    assert audit.blocked_requests == ()
    assert audit.images[0].loaded is False
    assert audit.console_errors == ("Failed to load resource: net::ERR_FILE_NOT_FOUND",)


def test_a_remote_script_and_stylesheet_are_blocked(tmp_path, chromium):
    body = f'<script src="https://{HOSTILE_HOST}/require.js"></script><p>text</p>'
    head = f'<link rel="stylesheet" href="https://{HOSTILE_HOST}/style.css">'
    audit = chromium.audit(write(tmp_path, body, head=head))
    assert set(audit.blocked_requests) == {
        Request(f"https://{HOSTILE_HOST}/require.js", "script"),
        Request(f"https://{HOSTILE_HOST}/style.css", "stylesheet"),
    }


def test_a_page_whose_path_has_spaces_and_accents_loads_with_its_files(tmp_path, chromium):
    folder = tmp_path / "Zürich reports"
    folder.mkdir()
    (folder / "carte é.svg").write_text(SVG)
    body = '<img src="carte%20%C3%A9.svg" alt="A teal bar"><a href="#x" id="x">x</a>'
    audit = chromium.audit(write(folder, body, name="Zürich (CH).html"))
    assert audit.problems() == []
    assert audit.images[0].loaded and audit.navigations == ()


def test_a_websocket_never_connects_and_is_recorded(tmp_path, chromium):
    body = f"<script>new WebSocket('wss://{HOSTILE_HOST}/live')</script><p>x</p>"
    audit = chromium.audit(write(tmp_path, body))
    assert audit.blocked_requests == (Request(f"wss://{HOSTILE_HOST}/live", "websocket"),)


def test_files_outside_the_page_folder_are_blocked_inside_it_load(tmp_path, chromium):
    (tmp_path / "outside.svg").write_text(SVG)
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "inside.svg").write_text(SVG)
    body = '<img src="../outside.svg" alt="a bar"><img src="inside.svg" alt="another bar">'
    audit = chromium.audit(write(tmp_path / "report", body))
    assert audit.blocked_requests == (Request((tmp_path / "outside.svg").as_uri(), "image"),)
    assert (tmp_path / "report" / "inside.svg").as_uri() in audit.local_requests
    assert [img.loaded for img in audit.images] == [False, True]


def test_a_page_that_leaves_itself_is_recorded_and_still_audited(tmp_path, chromium):
    head = f'<meta http-equiv="refresh" content="0;url=http://{HOSTILE_HOST}/away">'
    audit = chromium.audit(write(tmp_path, "<p>still here</p>", head=head))
    assert audit.navigations == (f"http://{HOSTILE_HOST}/away",)
    assert audit.blocked_requests == (Request(f"http://{HOSTILE_HOST}/away", "document"),)
    assert "still here" in audit.text
    script = f"<p>mid-parse</p><script>location.href = 'http://{HOSTILE_HOST}/x'</script>"
    audit = chromium.audit(write(tmp_path, script, name="leaves.html"))
    assert audit.navigations == (f"http://{HOSTILE_HOST}/x",)
    assert "mid-parse" in audit.text


# --- injected script -------------------------------------------------------------------------


def test_an_injected_onerror_handler_fires_and_is_named(tmp_path, chromium):
    audit = chromium.audit(write(tmp_path, "<p>Ghent<img src=x onerror=window.__pwned('t1')></p>"))
    assert audit.xss_fired
    assert audit.xss_events == (XssEvent("__pwned", "t1"),)
    assert audit.unsafe_markup == (
        {"tag": "img", "attribute": "onerror", "value": "window.__pwned('t1')"},
    )


def test_dialogs_and_title_writes_count_as_script_but_the_parsed_title_does_not(tmp_path, chromium):
    audit = chromium.audit(write(tmp_path, "<script>alert('hi')</script>", title="Report"))
    assert audit.dialogs == (XssEvent("alert", "hi"),) and audit.xss_fired
    assert audit.title == "Report"
    audit = chromium.audit(write(tmp_path, "<script>document.title = 'PWNED'</script>"))
    assert audit.xss_events == (XssEvent("document.title", "PWNED"),) and audit.xss_fired
    assert audit.title == "PWNED"


def test_a_javascript_link_is_unsafe_even_unclicked(tmp_path, chromium):
    body = (
        "<a href=\"javascript:window.__pwned('a')\">a</a>"
        "<a href=\" JaVaScRiPt:window.__pwned('b')\">b</a>"
        "<a href=\"java&#9;script:window.__pwned('c')\">c</a>"
    )
    audit = chromium.audit(write(tmp_path, body))
    assert not audit.xss_fired  # nobody clicked
    assert [link.kind for link in audit.links] == ["unsafe"] * 3
    assert [link.ok for link in audit.links] == [False] * 3
    assert [m["attribute"] for m in audit.unsafe_markup] == ["href"] * 3


def test_every_hostile_payload_is_caught_when_pasted_raw(tmp_path, chromium):
    """The payloads are live: pasted unescaped into a page, each does what its raw_effect says,
    and the harness sees it. (Closing tags after each keep one payload from swallowing the next.)"""
    closers = "--></iframe></textarea></style></title></select>"
    blocks = [f"<div>{p.text}{closers}</div>" for p in PAYLOADS if p.kind != "url"]
    blocks += [f'<p><a href="{p.text}">{p.name}</a></p>' for p in PAYLOADS if p.kind == "url"]
    audit = chromium.audit(write(tmp_path, "\n".join(blocks), title="raw"))
    fired = {e.detail for e in audit.xss_events if e.kind == "__pwned"}
    fired |= {d.detail for d in audit.dialogs}
    fired |= {e.detail.removeprefix("PWNED ") for e in audit.xss_events if e.kind != "__pwned"}
    unsafe = " ".join(m["value"] for m in audit.unsafe_markup)
    for p in PAYLOADS:
        if p.raw_effect == "script":
            assert p.name in fired, p
        elif p.raw_effect == "request":
            assert any(r.url in p.text for r in audit.blocked_requests), p
        elif p.raw_effect == "unsafe":
            assert p.name in unsafe or any(
                link.text == p.name and link.kind == "unsafe" for link in audit.links
            ), p
    # and the ones marked harmless raw are not what fired
    harmless = {p.name for p in PAYLOADS if p.raw_effect == ""}
    assert fired & harmless == set()


def test_hostile_payloads_are_named_once_and_filter_by_kind():
    assert len({p.name for p in PAYLOADS}) == len(PAYLOADS)
    assert {p.kind for p in PAYLOADS} == {"html", "url", "markdown"}
    assert len(texts()) == len(PAYLOADS)
    assert texts("url") == [p.text for p in PAYLOADS if p.kind == "url"]
    assert all(p.name in p.text for p in PAYLOADS if p.raw_effect == "script")
    with pytest.raises(ValueError, match="kind must be one of"):
        texts("htm")


# --- links -----------------------------------------------------------------------------------


def test_a_broken_relative_link_is_found_an_existing_one_is_not(tmp_path, chromium):
    (tmp_path / "there.html").write_text("<p>x</p>")
    body = (
        '<a href="there.html">ok</a><a href="missing.html">bad</a><a href="sub/x%20y.csv">csv</a>'
    )
    audit = chromium.audit(write(tmp_path, body))
    assert [(link.text, link.ok) for link in audit.links] == [
        ("ok", True),
        ("bad", False),
        ("csv", False),
    ]
    assert "missing.html" in audit.links[1].reason
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x y.csv").write_text("a\n1\n")
    assert chromium.audit(tmp_path / "page.html").links[2].ok  # percent-encoded name resolved


def test_a_missing_fragment_is_found_on_this_page_and_on_another(tmp_path, chromium):
    write(tmp_path, "<h2 id='method'>Method</h2>", name="other.html")
    body = (
        "<h2 id='results'>Results</h2><a href='#results'>1</a><a href='#nowhere'>2</a>"
        "<a href='other.html#method'>3</a><a href='other.html#gone'>4</a><a href='#'>top</a>"
    )
    audit = chromium.audit(write(tmp_path, body))
    assert [link.ok for link in audit.links] == [True, False, True, False, True]
    assert "'nowhere'" in audit.links[1].reason and "'gone'" in audit.links[3].reason


def test_an_absolute_local_link_is_not_portable(tmp_path, chromium):
    (tmp_path / "there.html").write_text("<p>x</p>")
    href = (tmp_path / "there.html").as_uri()
    audit = chromium.audit(write(tmp_path, f'<a href="{href}">abs</a>'))
    assert audit.links[0].ok is False and "absolute" in audit.links[0].reason


# --- images ----------------------------------------------------------------------------------


def test_images_need_a_meaningful_alt(tmp_path, chromium):
    (tmp_path / "f.svg").write_text(SVG)
    body = (
        f'<img src="f.svg" alt="{NBCONVERT_DEFAULT_ALT}">'
        '<img src="f.svg"><img src="f.svg" alt=""><img src="f.svg" alt="Image">'
        '<img src="f.svg" alt="figure 2"><img src="f.svg" alt="chart.png">'
        '<img src="f.svg" alt="Take-up rose from 41 % to 58 % after the transfer">'
    )
    audit = chromium.audit(write(tmp_path, body))
    assert [img.meaningful for img in audit.images] == [False] * 6 + [True]
    assert audit.images[1].alt is None and audit.images[2].alt == ""
    assert len(audit.images_without_meaningful_alt) == 6


# --- tables ----------------------------------------------------------------------------------


def test_a_3000px_table_overflows_unless_it_scrolls_in_its_own_box(tmp_path, chromium):
    wide = "<table style='width:3000px'><caption>services</caption><tr><td>a</td></tr></table>"
    audit = chromium.audit(write(tmp_path, wide))
    assert [(t.index, round(t.width), t.label) for t in audit.overflowing_tables] == [
        (0, 3000, "services")
    ]
    assert "not in a horizontally scrollable container" in audit.overflowing_tables[0].problem
    audit = chromium.audit(write(tmp_path, f"<div style='overflow-x:auto'>{wide}</div>"))
    assert audit.overflowing_tables == ()
    audit = chromium.audit(write(tmp_path, f"<div style='overflow:hidden'>{wide}</div>"))
    assert "cut off" in audit.overflowing_tables[0].problem
    inner = f"<div style='overflow:hidden;width:500px'>{wide}</div>"  # the nearest box decides
    audit = chromium.audit(write(tmp_path, f"<div style='overflow-x:auto'>{inner}</div>"))
    assert "cut off" in audit.overflowing_tables[0].problem
    audit = chromium.audit(
        write(tmp_path, f"<div style='overflow-x:auto;width:2000px'>{wide}</div>")
    )
    assert "scrolling container is wider" in audit.overflowing_tables[0].problem


def test_the_viewport_width_decides_what_fits(tmp_path, chromium):
    path = write(tmp_path, "<table style='width:1000px'><tr><td>a</td></tr></table>")
    assert chromium.audit(path, width=1280).overflowing_tables == ()
    assert len(chromium.audit(path, width=800).overflowing_tables) == 1


# --- visible code ----------------------------------------------------------------------------

NB_INPUT = """<div class="jp-Cell jp-MarkdownCell"><div class="jp-InputArea jp-Cell-inputArea">
<div class="jp-InputPrompt"></div><div class="jp-RenderedMarkdown"><p>Prose in a Markdown cell.</p>
</div></div></div><div class="jp-Cell jp-CodeCell"><div class="jp-Cell-inputWrapper"{hide}>
<div class="jp-InputArea jp-Cell-inputArea"><div class="jp-InputPrompt">In&nbsp;[1]:</div>
<div class="jp-CodeMirrorEditor jp-Editor"><div class="highlight"><pre>import pandas as pd
df = pd.read_parquet("x.parquet")</pre></div></div></div></div>
<div class="jp-OutputArea"><pre>   city  score
0  Ghent   75.0</pre></div></div>"""


def test_visible_input_cells_are_found_hidden_ones_are_not(tmp_path, chromium):
    audit = chromium.audit(write(tmp_path, NB_INPUT.format(hide="")))
    assert audit.code_visible
    assert {c.selector for c in audit.code_blocks} >= {
        ".jp-CodeCell .jp-InputArea",
        ".jp-CodeCell .jp-InputPrompt",
    }
    assert any("read_parquet" in c.text for c in audit.code_blocks)
    audit = chromium.audit(write(tmp_path, NB_INPUT.format(hide=' style="display:none"')))
    assert audit.code_blocks == ()  # and the Markdown cell's input area is prose, not code
    assert "Prose in a Markdown cell." in audit.text


def test_python_in_a_pre_is_code_a_data_frame_is_not(tmp_path, chromium):
    audit = chromium.audit(write(tmp_path, "<pre>for city in cities:\n    print(city)</pre>"))
    assert [c.selector for c in audit.code_blocks] == ["pre"]
    audit = chromium.audit(write(tmp_path, "<pre>   city  score\n0  Ghent   75.0</pre>"))
    assert audit.code_blocks == ()


def _notebook():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    cell = nbformat.v4.new_code_cell(
        "import math\nvalue = math.sqrt(2)\nprint(value)",
        outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="1.4142135623730951\n"),
            nbformat.v4.new_output("display_data", data={"image/png": png}),
        ],
    )
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Report\n\nOne sentence."), cell]
    )


@pytest.mark.parametrize("exclude_input", [False, True])
def test_real_nbconvert_output_code_shown_or_hidden(tmp_path, chromium, exclude_input):
    """The selectors match what nbconvert writes: its lab template with and without code."""
    body, _ = HTMLExporter(exclude_input=exclude_input).from_notebook_node(_notebook())
    path = tmp_path / "nb.html"
    path.write_text(body, encoding="utf-8")
    audit = chromium.audit(path)
    assert audit.code_visible is (not exclude_input)
    assert "1.4142135623730951" in audit.text and "One sentence." in audit.text
    # nbconvert gives every image output its default alt text
    assert [img.alt for img in audit.images] == [NBCONVERT_DEFAULT_ALT]
    assert not audit.images[0].meaningful


# --- console, text, screenshots, arguments --------------------------------------------------


def test_console_errors_and_uncaught_exceptions_are_recorded(tmp_path, chromium):
    body = "<script>console.error('bad value')</script><script>throw new Error('boom')</script>"
    audit = chromium.audit(write(tmp_path, body))
    assert audit.console_errors == ("bad value",)
    assert len(audit.page_errors) == 1 and "boom" in audit.page_errors[0]
    assert not audit.xss_fired


def test_audit_page_shares_one_browser_and_writes_a_screenshot(tmp_path, chromium):
    path = write(tmp_path, "<h1 id='key-findings'>Key findings</h1>")
    shot = tmp_path / "first-screen.png"
    audit = audit_page(path, width=1024, screenshot=shot)
    assert audit.has_id("key-findings") and audit.width == 1024
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1024, 900)


def test_bad_arguments_are_refused(tmp_path, chromium):
    with pytest.raises(FileNotFoundError, match="no HTML file"):
        chromium.audit(tmp_path / "missing.html")
    path = write(tmp_path, "<p>x</p>")
    for width in (50, 1280.0, "1280", True):
        with pytest.raises(ValueError, match="width must be"):
            chromium.audit(path, width=width)
