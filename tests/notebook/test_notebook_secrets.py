"""With a key in the environment, no cell output, saved notebook or repr shows it (a canary key)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import nbmessages
import nbmessages.local

CANARY = "sk-ant-canary-5f3b9c2e7d41a8"
NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def server():
    # the server takes only the canary: a request that did not carry it would fail visibly
    with nbmessages.local.start(pace=0, ttft=0, key=CANARY) as srv:
        yield srv


def _starts_its_own_server(nb: nbformat.NotebookNode) -> bool:
    return any("local.start(" in cell.source for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_never_shows_the_key(path, server, tmp_path):
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "ANTHROPIC_API_KEY": CANARY, "NBMESSAGES_BASE_URL": server.base_url,
           "NBMESSAGES_LEDGER": str(tmp_path / "usage.sqlite")}
    served = server.requests_served
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(
        env=env)
    if not _starts_its_own_server(nb):  # such a notebook's client still takes the canary from the environment
        assert server.requests_served > served  # the notebook's calls reached this server, with the canary key
    outputs = json.dumps([cell.get("outputs", []) for cell in nb.cells], ensure_ascii=False)
    assert "Authentication failed" not in outputs
    saved = tmp_path / path.name
    nbformat.write(nb, saved)
    for text in (outputs, saved.read_text(encoding="utf-8")):
        assert CANARY not in text and CANARY[-12:] not in text


def test_client_and_errors_never_show_the_key(server):
    client = nbmessages.Client(api_key=CANARY, base_url=server.base_url, ledger=False)
    assert CANARY not in repr(client) and CANARY not in str(client.api_key)
    bad = nbmessages.Client(api_key=CANARY + "x", base_url=server.base_url, ledger=False, max_retries=0)
    with pytest.raises(nbmessages.AuthenticationError) as info:
        bad.messages.create(model="m", max_tokens=5, messages="hi")
    from nbmessages.notebook.render import Status, render_bundle

    shown = json.dumps(render_bundle([], Status(error=info.value)))
    assert CANARY not in shown and CANARY not in str(info.value)
