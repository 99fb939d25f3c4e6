"""``import nbmessages`` stays light: pandas, ipywidgets and the server load only when needed."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, nbmessages; "
        "heavy = [m for m in ('pandas', 'ipywidgets', 'matplotlib', 'genai_prices', 'uvicorn', 'starlette') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_attributes_resolve():
    import nbmessages

    assert callable(nbmessages.local.start)
    try:
        nbmessages.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
