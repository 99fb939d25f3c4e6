"""The no-key notice: a quiet plain-text line under a kernel (not the red stderr box), stderr elsewhere."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nbmessages.client.notices import info


def test_outside_a_kernel_the_notice_goes_to_stderr(capsys):
    info("nbmessages: hello")
    captured = capsys.readouterr()
    assert captured.err == "nbmessages: hello\n" and captured.out == ""


def test_under_a_kernel_the_notice_is_a_plain_text_output_not_stderr(monkeypatch: pytest.MonkeyPatch):
    shell = InteractiveShell.instance()
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # what ipykernel's shell carries
    with capture_output() as cap:
        info("nbmessages: using the embedded offline server")
    assert cap.stderr == "" and cap.stdout == ""
    assert [o.data for o in cap.outputs] == [{"text/plain": "ℹ nbmessages: using the embedded offline server"}]
