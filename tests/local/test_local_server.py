"""Starting and stopping: port 0, context manager, speed, inside a running event loop, shared(), the CLI."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from local_fixtures import body

import nbmessages.local as local
from nbmessages.local import LocalServer, start


def test_start_serves_at_once_and_stop_frees_the_port():
    server = start(pace=0, ttft=0)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
    assert httpx.get(server.base_url + "/v1/models").status_code == 200  # accepting right away
    assert server.openrouter_base_url == server.base_url + "/api" and server.running
    server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/v1/models")


def test_context_manager_and_two_servers_side_by_side():
    with start(pace=0, ttft=0) as one, start(pace=0, ttft=0) as two:
        assert one.port != two.port
        assert httpx.post(two.base_url + "/v1/messages", json=body("x")).status_code == 200
        assert "running" in repr(one)
    assert not one.running and not two.running


def test_stop_is_quick_even_with_a_stalled_stream():
    server = start(pace=0, ttft=0)
    client = httpx.Client(base_url=server.base_url, timeout=10)
    stalled = threading.Thread(target=_read_quietly, args=(client,), daemon=True)
    stalled.start()
    deadline = time.monotonic() + 3
    while server.active_streams == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    began = time.perf_counter()
    server.stop()
    assert time.perf_counter() - began < 3
    stalled.join(5)
    client.close()


def _read_quietly(client: httpx.Client) -> None:
    try:
        client.post("/v1/messages", json={**body("stall"), "stream": True}, headers={"x-nbmessages-fault": "stall"})
    except httpx.HTTPError:
        pass


def test_works_from_inside_a_running_event_loop():
    async def notebook_cell() -> int:  # as in a Jupyter kernel: a loop is already running on this thread
        with start(pace=0, ttft=0) as server:
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                response = await client.post("/v1/messages", json={**body("async"), "stream": True})
                return response.status_code

    assert asyncio.run(notebook_cell()) == 200


def test_shared_starts_once_across_threads(monkeypatch):
    monkeypatch.setattr(local, "_shared", None)
    seen: list[LocalServer] = []
    threads = [threading.Thread(target=lambda: seen.append(local.shared())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len({id(s) for s in seen}) == 1 and seen[0].running
        assert seen[0].config.pace == 150 and seen[0].config.ttft == 0.3
        assert local.shared() is seen[0]
    finally:
        seen[0].stop()
    assert local.shared() is not seen[0]  # a stopped shared server is replaced
    local.shared().stop()


def test_cli_serve_prints_its_url_and_serves():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "nbmessages", "serve", "--port", "0", "--pace", "0", "--ttft",
                                "0", "--key", "k"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=root)
    try:
        line = process.stdout.readline()
        match = re.search(r"nbmessages local server listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line + process.stderr.read()
        response = httpx.post(match.group(1) + "/v1/messages", json=body("cli"), headers={"x-api-key": "k"})
        assert response.status_code == 200
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_cli_help_and_bad_arguments():
    from nbmessages.__main__ import build_parser, main

    assert "serve" in build_parser().format_help()
    with pytest.raises(SystemExit):
        main([])
    assert main(["serve", "--record", "x.json"]) == 2
