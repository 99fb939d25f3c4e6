"""The ``%%message`` magic as a person sees it: JupyterLab and Notebook 7 in headless Debian Chromium.

One Jupyter server per front end for the module, one page per notebook run; each test writes its own small
notebook (code cells only, so the magic's live output is the first Markdown the page renders) and keeps a
screenshot in ``artifacts/``. Skipped when Chromium or Playwright is missing (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from jupyter_browser import (
    ARTIFACTS,
    UI_TIMEOUT,
    JupyterServer,
    free_port,
    launch_chromium,
    needs_chromium,
    run_all,
)

import nbmessages.local
from nbmessages.local import Cassette
from nbmessages.notebook.render import render_bundle
from nbmessages.testing import message_events, sse

pytestmark = [needs_chromium, pytest.mark.timeout(240)]
sync_api = pytest.importorskip("playwright.sync_api")

DOLLARS = "The basic plan costs $5 per month and the pro plan costs $20 per month."
MATH = "The area is $x^2$, and $$\\int_0^1 x\\,dx = \\tfrac{1}{2}$$"
LONG_PROMPT = ("Please summarise the quarterly revenue figures for the northeastern region and explain the "
               "variance against the forecast, in two sentences.")
SETUP = "%load_ext nbmessages\n%nbmessages model claude-sonnet-4-5\n%nbmessages max_tokens 1024"


@pytest.fixture(scope="module", params=["lab", "notebook"])
def jupyter(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab, then Notebook 7, serving an empty folder the tests write notebooks into."""
    home = tmp_path_factory.mktemp(f"jupyter-{request.param}")
    (home / "notebooks").mkdir()
    server = JupyterServer(home / "notebooks", home, request.param)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, jupyter: JupyterServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (a freshly loaded front end); screenshot saved on failure."""
    ARTIFACTS.mkdir(exist_ok=True)
    tab = browser.new_page(viewport={"width": 1200, "height": 1000})
    tab.set_default_timeout(UI_TIMEOUT)
    failed_before = request.session.testsfailed
    yield tab
    if request.session.testsfailed > failed_before:  # this test failed: keep what the page showed
        tab.screenshot(path=str(ARTIFACTS / f"magic-failure-{request.node.name}.png"))
    tab.close()
    jupyter.shutdown_kernels()


def open_notebook(page: Any, jupyter: JupyterServer, name: str, *cells: str, done: str, write: bool = True) -> Any:
    """Write a notebook of code cells, open it in the page, run it until the last cell shows ``done``."""
    if write:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, jupyter.root / name)
    page.goto(jupyter.notebook_url(name, fresh=True))
    page.locator(".jp-Notebook").first.wait_for()
    cell = page.locator(".jp-NotebookPanel:visible .jp-CodeCell").nth(len(cells) - 1)
    run_all(page, lambda: done in cell.locator(".jp-OutputArea").inner_text(), f"show {done!r}")
    return cell


def markdown_outputs(cell: Any) -> list[str]:
    """The text of each Markdown output of a cell that shows something."""
    texts = cell.locator(".jp-RenderedMarkdown").all_inner_texts()
    return [t.strip() for t in texts if t.strip()]


def shoot(cell: Any, jupyter: JupyterServer, name: str) -> None:
    cell.scroll_into_view_if_needed()
    path = ARTIFACTS / f"magic-{name}-{jupyter.front}.png"
    cell.screenshot(path=str(path))
    assert path.stat().st_size > 2_000


# -- a replayed answer: money reads as money, math is still typeset


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A replay server whose cassette answers the magic's request with dollar amounts and math."""
    folder = tmp_path_factory.mktemp("replay")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    body = _magic_body(url, "What do the plans cost?")
    events = message_events([{"type": "thinking", "thinking": "Prices first, then the integral."},
                             {"type": "text", "text": f"{DOLLARS}\n\n{MATH}"}], model="claude-sonnet-4-5")
    cassette = Cassette(folder / "dollars.json")
    cassette.add("POST", "/v1/messages", body, 200, {"content-type": "text/event-stream"}, sse(events))
    cassette.save()
    with nbmessages.local.start(port=port, replay=cassette.path) as server:
        yield server.base_url


def _magic_body(url: str, prompt: str) -> dict[str, Any]:
    """The body the kernel's magic sends, from a dry run in an IPython shell here with the same settings."""
    shell = InteractiveShell.instance()
    with capture_output() as cap:
        shell.run_cell(f"{SETUP}\n%nbmessages base_url {url}")
        shell.run_cell(f"%%message --new --dry-run\n{prompt}")
        shell.run_cell("%nbmessages base_url off")
    plain = cap.outputs[-1].data["text/plain"] if cap.outputs else ""
    return json.loads(plain[plain.index("{"):])


def test_a_replayed_answer_shows_dollar_amounts_literally_and_math_typeset(page: Any, jupyter: JupyterServer,
                                                                           replay: str) -> None:
    cell = open_notebook(page, jupyter, "dollars.ipynb", f"{SETUP}\n%nbmessages base_url {replay}",
                         "%%message --new\nWhat do the plans cost?", done="end_turn")
    answer = cell.locator(".jp-RenderedMarkdown").last
    answer.locator("mjx-container").first.wait_for()  # MathJax has typeset the page
    text = answer.inner_text()
    assert DOLLARS in text, text
    assert answer.locator("mjx-container").count() == 2, answer.inner_html()  # $x^2$ and the display integral
    thinking = answer.locator("details").first  # folded thinking, set apart from the answer by a rule
    assert thinking.evaluate("d => getComputedStyle(d).borderLeftWidth") == "3px"
    thinking.locator("summary").click()
    assert "Prices first" in thinking.inner_text()
    shoot(cell, jupyter, "dollars")


# -- a fast answer never leaves the live area's "waiting" or "streaming" output behind


def test_a_fast_answer_leaves_exactly_one_final_output_in_a_fresh_page(browser: Any, page: Any,
                                                                       jupyter: JupyterServer) -> None:
    setup = f"{SETUP}\n%nbmessages header x-nbmessages-pace 0\n%nbmessages header x-nbmessages-ttft 0"
    for run in range(5):  # each time a freshly loaded page and a new notebook (and kernel)
        tab = page if run == 0 else browser.new_page(viewport={"width": 1200, "height": 1000})
        tab.set_default_timeout(UI_TIMEOUT)
        try:
            cell = open_notebook(tab, jupyter, f"fast-{run}.ipynb", setup, f"%%message\n{LONG_PROMPT}", done="end_turn")
            tab.wait_for_timeout(1000)  # a late render of an earlier update would land by now
            outputs = markdown_outputs(cell)
            assert len(outputs) == 1, f"run {run}: {outputs}"
            assert "waiting for the model" not in outputs[0] and "streaming…" not in outputs[0], f"run {run}: {outputs}"
            if run == 4:  # the long prompt is quoted as prose, wrapped at word breaks (a <pre> breaks words)
                assert LONG_PROMPT in cell.locator(".jp-RenderedMarkdown blockquote").first.inner_text()
                shoot(cell, jupyter, "fast")
        finally:
            if tab is not page:
                tab.screenshot(path=str(ARTIFACTS / f"magic-fast-last-run-{jupyter.front}.png"))
                tab.close()
            jupyter.shutdown_kernels()


# -- a slow stream grows while the cell runs, and so does its output token count


def test_a_slow_stream_grows_with_its_out_count(page: Any, jupyter: JupyterServer) -> None:
    setup = f"{SETUP}\n%nbmessages header x-nbmessages-pace 25\n%nbmessages header x-nbmessages-ttft 0"
    cell = open_notebook(page, jupyter, "slow.ipynb", setup,
                         "%%message\nExplain streaming in a few paragraphs, please.", done="streaming…")
    samples: list[tuple[int, int]] = []
    while True:
        text = cell.locator(".jp-OutputArea").inner_text()
        if "streaming…" not in text:
            break
        found = re.search(r"out (\d+)", text)
        samples.append((len(text), int(found.group(1)) if found else 0))
        if len(samples) == 3:
            shoot(cell, jupyter, "slow-streaming")
        page.wait_for_timeout(400)
    lengths, outs = [s[0] for s in samples], [s[1] for s in samples]
    assert len(set(lengths)) >= 3 and lengths == sorted(lengths), samples
    assert len(set(outs)) >= 3 and outs == sorted(outs) and outs[-1] > 1, samples
    page.wait_for_function("c => c.textContent.includes('end_turn')", arg=cell.element_handle())


# -- a fault: the error box, no traceback


def test_an_overloaded_api_shows_the_error_box_and_no_traceback(page: Any, jupyter: JupyterServer) -> None:
    setup = f"{SETUP}\n%nbmessages retries 0\n%nbmessages header x-nbmessages-fault overloaded"
    cell = open_notebook(page, jupyter, "fault.ipynb", setup, "%%message\nHello?", done="overloaded")
    text = cell.locator(".jp-OutputArea").inner_text()
    assert "⚠ The API is overloaded" in text, text
    assert "Traceback" not in text and cell.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0
    shoot(cell, jupyter, "fault")


# -- nbconvert's HTML export (MathJax 2 from Debian's libjs-mathjax: the export page loads it from a CDN)

MATHJAX2 = Path("/usr/share/javascript/mathjax/MathJax.js")


@pytest.mark.skipif(not MATHJAX2.exists(), reason="Debian's libjs-mathjax is not installed (.ci/run installs it)")
def test_nbconvert_html_export_shows_money_literally_and_typesets_math(browser: Any, tmp_path: Path) -> None:
    from nbconvert import HTMLExporter

    bundle = render_bundle([{"type": "text", "text": f"{DOLLARS}\n\n{MATH}"}])
    output = nbformat.v4.new_output("display_data", data=bundle)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%%message", outputs=[output])])
    exporter = HTMLExporter(mathjax_url=f"{MATHJAX2.as_uri()}?config=TeX-AMS_CHTML-full,Safe")
    page_file = tmp_path / "export.html"
    page_file.write_text(exporter.from_notebook_node(nb)[0])
    tab = browser.new_page(viewport={"width": 1000, "height": 600})
    try:
        tab.goto(page_file.as_uri())
        answer = tab.locator(".jp-RenderedMarkdown").first
        answer.locator(".MathJax_CHTML").first.wait_for()  # MathJax 2 has typeset the page
        assert DOLLARS in answer.inner_text()
        assert answer.locator(".MathJax_CHTML").count() == 2  # $x^2$ and the display integral
        answer.screenshot(path=str(ARTIFACTS / "export-dollars.png"))
    finally:
        tab.close()
