"""Import time of nbmessages against the official anthropic SDK (fresh interpreters, best of 5).

Target: ``import nbmessages`` under 0.3 s on these machines.
"""

from __future__ import annotations

import subprocess
import sys


def import_time(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(5)]
    return min(runs)


def main() -> None:
    ours = import_time("nbmessages")
    print(f"import nbmessages: {ours * 1000:.0f} ms (target < 300 ms: {'met' if ours < 0.3 else 'NOT met'})")
    try:
        sdk = import_time("anthropic")
    except subprocess.CalledProcessError:
        print("import anthropic: not installed")
        return
    print(f"import anthropic:  {sdk * 1000:.0f} ms ({sdk / ours:.1f}x nbmessages)")


if __name__ == "__main__":
    main()
