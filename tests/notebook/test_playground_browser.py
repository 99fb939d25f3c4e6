"""The real-browser test of the playground: JupyterLab + headless Debian Chromium driven by Playwright.

JupyterLab runs on 127.0.0.1 with a token, on a copy of ``notebooks/``; Chromium (``/usr/bin/chromium``, never
a downloaded browser) opens ``playground.ipynb``, runs all cells, types a prompt in the playground, clicks
Send, waits for the offline model's streamed answer and saves ``artifacts/playground.png``.
Skipped when Chromium or Playwright is missing (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
PROMPT = "Hello from a real browser"
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}  # no news toast
START_TIMEOUT = 60  # seconds for JupyterLab to answer /api/status
UI_TIMEOUT = 45_000  # milliseconds for any one thing to appear in the page

pytestmark = [
    # skipped on a developer's machine without chromium; in CI (.ci/run installs it) a missing browser fails
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (.ci/run installs it)"),
    pytest.mark.timeout(150),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server in a subprocess (its own process group, so it and its kernels can be ended)."""

    def __init__(self, root: Path, home: Path) -> None:
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (home / "jupyterlab.log").open("w")
        labconfig = home / "config" / "labconfig"
        labconfig.mkdir(parents=True)
        (labconfig / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_CONFIG_DIR": str(home / "config"),
               "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        for name in ("ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "NBMESSAGES_BASE_URL", "ANTHROPIC_BASE_URL"):
            env.pop(name, None)  # the notebook runs on the embedded offline server
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.port={self.port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
                   "--ServerApp.open_browser=False", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   "--LabApp.extension_manager=readonly"]  # no internet: nothing asks PyPI
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

    def wait_ready(self) -> None:
        """Wait for ``/api/status`` to answer (or fail with the server's log)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                response = httpx.get(f"{self.url}/api/status", params={"token": self.token}, timeout=2)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        pytest.fail(f"JupyterLab did not answer /api/status within {START_TIMEOUT} s:\n{self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-4000:]

    def stop(self) -> None:
        """End JupyterLab and its kernels (the whole process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns("*.png", ".ipynb_checkpoints"))
    server = Lab(root, tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _accept_dialogs(page: Any) -> bool:
    """Accept a "Select Kernel" dialog if JupyterLab shows one (it sometimes does on a fresh profile)."""
    accept = page.locator(".jp-Dialog .jp-mod-accept").first
    if accept.is_visible():
        accept.click()
        return True
    return False


def _until(page: Any, seconds: float, done: Any) -> bool:
    """Poll ``done()`` for up to ``seconds``, accepting dialogs meanwhile; return whether it came true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _accept_dialogs(page) and done():
            return True
        page.wait_for_timeout(200)
    return False


def _run_notebook(page: Any) -> Any:
    """Run All Cells until the playground is drawn (a run sent while the kernel connects can be lost: retry)."""
    idle = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']").first
    playground = page.locator(".nbmessages-playground").first
    ran = page.locator(".jp-CodeCell .jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]"))
    for _attempt in range(3):
        assert _until(page, UI_TIMEOUT / 1000, idle.is_visible), "the notebook's kernel did not become idle"
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        if not _until(page, 5, lambda: ran.count() > 0):
            continue  # no cell was queued or run: the request was lost
        if _until(page, UI_TIMEOUT / 1000, playground.is_visible):
            return playground
    raise AssertionError("Run All Cells did not draw the playground (3 attempts)")


def test_playground_in_jupyterlab_streams_an_answer_in_headless_chromium(lab: Lab, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    started = time.monotonic()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
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


def _drive(page: Any, lab: Lab) -> None:
    """Open the notebook, run it, type a prompt in the playground, Send, wait for the answer, screenshot."""
    page.goto(f"{lab.url}/lab/tree/playground.ipynb?token={lab.token}")
    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for()
    playground = _run_notebook(page)
    # the notebook's own cell sends a message from code: wait for its answer before typing
    output = playground.locator(".nbmessages-output")
    output.get_by_text("server-sent events").first.wait_for()
    page.wait_for_function(
        "() => { const s = document.querySelector('.nbmessages-playground .nbmessages-stats');"
        " return s && s.textContent.includes('end_turn'); }")

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
