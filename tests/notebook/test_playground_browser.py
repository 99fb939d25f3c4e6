"""The real-browser test of the playground: JupyterLab + headless Debian Chromium driven by Playwright.

JupyterLab runs on 127.0.0.1 with a token, on a copy of ``notebooks/``; Chromium (``/usr/bin/chromium``, never
a downloaded browser) opens ``playground.ipynb``, runs all cells, types a prompt in the playground, clicks
Send, waits for the offline model's streamed answer and saves ``artifacts/playground.png``.
Skipped when Chromium or Playwright is missing (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_browser import (
    ARTIFACTS,
    ROOT,
    UI_TIMEOUT,
    JupyterServer,
    launch_chromium,
    needs_chromium,
    run_all,
)

PROMPT = "Hello from a real browser"

pytestmark = [needs_chromium, pytest.mark.timeout(150)]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[JupyterServer]:
    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns("*.png", ".ipynb_checkpoints"))
    server = JupyterServer(root, tmp_path / "home", "lab")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _run_notebook(page: Any) -> Any:
    """Run All Cells until the playground is drawn."""
    playground = page.locator(".nbmessages-playground").first
    run_all(page, playground.is_visible, "draw the playground")
    return playground


def test_playground_in_jupyterlab_streams_an_answer_in_headless_chromium(lab: JupyterServer, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    started = time.monotonic()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2200})
            page.set_default_timeout(UI_TIMEOUT)
            try:
                _drive(page, lab)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "playground-failure.png"))  # what the page showed
                raise
        finally:
            browser.close()
    assert (ARTIFACTS / "playground.png").stat().st_size > 10_000
    elapsed = time.monotonic() - started
    assert elapsed < 90, f"the browser test took {elapsed:.0f} s (budget: 90 s)"


def _drive(page: Any, lab: JupyterServer) -> None:
    """Open the notebook, run it, type a prompt in the playground, Send, wait for the answer, screenshot."""
    page.goto(lab.notebook_url("playground.ipynb", fresh=True))
    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for()
    playground = _run_notebook(page)
    # the notebook's own cell sends a message from code: wait for its answer before typing
    output = playground.locator(".nbmessages-output")
    output.get_by_text("server-sent events").first.wait_for()
    page.wait_for_function(
        "() => { const s = document.querySelector('.nbmessages-playground .nbmessages-stats');"
        " return s && s.textContent.includes('end_turn'); }")

    # a list box: Enter adds what was typed (a chip), clicking the chip removes it again
    playground.get_by_text("Thinking, effort, stops").first.click()
    stops = playground.get_by_placeholder("a stop sequence, then Enter")
    stops.fill("ZZZ-STOP")
    stops.press("Enter")
    chip = playground.get_by_role("button", name="ZZZ-STOP ✕")
    chip.wait_for()
    assert stops.input_value() == ""
    playground.screenshot(path=str(ARTIFACTS / "playground-list-entry.png"))
    chip.click()
    chip.wait_for(state="detached")

    prompt = playground.locator(".nbmessages-prompt textarea")
    prompt.click()
    prompt.fill(PROMPT)
    playground.locator("button.nbmessages-send").click()

    # streamed text arrives while the answer is still streaming, then the answer completes
    answer = output.locator(".nbmessages-answer").nth(1)
    answer.get_by_text("nbmessages offline model").first.wait_for()
    answer.get_by_text(PROMPT).first.wait_for()  # the offline model quotes the prompt back
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nbmessages-playground .nbmessages-answer')]"
        ".slice(-1)[0]?.textContent.includes('What the request asked for')")
    page.wait_for_function(
        "() => !document.querySelector('.nbmessages-playground button.nbmessages-send').disabled")
    text = answer.inner_text()
    assert "conversation: 3 messages (2 user, 1 assistant)" in text, text
    assert "You wrote" in text and PROMPT in text

    playground.scroll_into_view_if_needed()
    playground.screenshot(path=str(ARTIFACTS / "playground.png"))
