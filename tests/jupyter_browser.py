"""Helpers for the real-browser tests: a Jupyter server (JupyterLab or Notebook 7) and a headless Chromium.

The server runs on 127.0.0.1 with a token, in its own process group (so it and its kernels can be ended);
Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright, never a downloaded browser.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}  # no news toast
START_TIMEOUT = 60  # seconds for the server to answer /api/status
UI_TIMEOUT = 45_000  # milliseconds for any one thing to appear in the page
# the front ends under test: the server module run with ``python -m`` and the page path of a notebook
FRONTS = {"lab": ("jupyterlab", "lab/tree"), "notebook": ("notebook", "notebooks")}

needs_chromium = pytest.mark.skipif(  # in CI (.ci/run installs it) a missing browser fails instead
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """JupyterLab or Notebook 7 serving ``root`` in a subprocess, with a token, on 127.0.0.1."""

    def __init__(self, root: Path, home: Path, front: str = "lab", env: dict[str, str] | None = None) -> None:
        module, self.page_path = FRONTS[front]
        self.front, self.root = front, root
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.log = (home / f"{front}.log").open("w")
        labconfig = home / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        full_env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                    "JUPYTER_CONFIG_DIR": str(home / "config"),
                    "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
                    "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **(env or {})}
        for name in ("ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "NBMESSAGES_BASE_URL", "ANTHROPIC_BASE_URL"):
            full_env.pop(name, None)  # notebooks run on the embedded offline server
        command = [sys.executable, "-m", module, "--no-browser", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.port={self.port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
                   "--ServerApp.open_browser=False", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   "--LabApp.extension_manager=readonly"]  # no internet: nothing asks PyPI
        if front == "notebook":  # Notebook 7 is configured through its own app class
            command = [c.replace("--LabApp.", "--JupyterNotebookApp.") for c in command]
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=full_env,
                                        start_new_session=True)

    def notebook_url(self, name: str, fresh: bool = False) -> str:
        """The page of a notebook (with the token); ``fresh``: JupyterLab restores no earlier tabs."""
        reset = "&reset" if fresh and self.front == "lab" else ""
        return f"{self.url}/{self.page_path}/{name}?token={self.token}{reset}"

    def wait_ready(self) -> None:
        """Wait for ``/api/status`` to answer (or fail with the server's log)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.front} exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                response = httpx.get(f"{self.url}/api/status", params={"token": self.token}, timeout=2)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        pytest.fail(f"{self.front} did not answer /api/status within {START_TIMEOUT} s:\n{self.log_text()}")

    def shutdown_kernels(self) -> None:
        """End every kernel (so the next page load starts a fresh one)."""
        params = {"token": self.token}
        for kernel in httpx.get(f"{self.url}/api/kernels", params=params, timeout=10).json():
            httpx.delete(f"{self.url}/api/kernels/{kernel['id']}", params=params, timeout=10)
        for session in httpx.get(f"{self.url}/api/sessions", params=params, timeout=10).json():
            httpx.delete(f"{self.url}/api/sessions/{session['id']}", params=params, timeout=10)

    def log_text(self) -> str:
        """The end of the server's log."""
        self.log.flush()
        return Path(self.log.name).read_text()[-4000:]

    def stop(self) -> None:
        """End the server and its kernels (the whole process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def accept_dialogs(page: Any) -> bool:
    """Accept a "Select Kernel" dialog if the front end shows one (it sometimes does on a fresh profile)."""
    accept = page.locator(".jp-Dialog .jp-mod-accept").first
    if accept.is_visible():
        accept.click()
        return True
    return False


def until(page: Any, seconds: float, done: Callable[[], Any]) -> bool:
    """Poll ``done()`` for up to ``seconds``, accepting dialogs meanwhile; return whether it came true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not accept_dialogs(page) and done():
            return True
        page.wait_for_timeout(200)
    return False


def run_all(page: Any, done: Callable[[], Any], what: str) -> None:
    """Run All Cells until ``done()`` (a run sent while the kernel connects can be lost: retry)."""
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")  # Lab's status bar, Notebook 7's top bar
    ran = page.locator(".jp-CodeCell .jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]"))
    for _attempt in range(3):
        assert until(page, UI_TIMEOUT / 1000, lambda: idle.count() > 0), "the notebook's kernel did not become idle"
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        if not until(page, 5, lambda: ran.count() > 0):
            continue  # no cell was queued or run: the request was lost
        if until(page, UI_TIMEOUT / 1000, done):
            return
    raise AssertionError(f"Run All Cells did not {what} (3 attempts)")
