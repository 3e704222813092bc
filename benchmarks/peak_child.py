"""Run a module as `python -m MODULE ARGS…` would, and write this process's own peak RSS when it exits.

`python -m benchmarks.peak_child FILE MODULE ARGS…`: at exit, the kernel's VmHWM of this process (KiB, from
/proc/self/status) is written to FILE. Unlike `ru_maxrss` from `wait4()`, VmHWM belongs to the address space made
at exec, so it does not include the RSS of the parent that spawned the process (Linux carries the pre-exec peak
into `ru_maxrss`: a child of a 500 MB parent reports ≥ 500 MB however little it uses itself).
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def own_peak_kib() -> int:
    """VmHWM of this process in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    target, module, *arguments = sys.argv[1:]
    atexit.register(lambda: Path(target).write_text(str(own_peak_kib()), encoding="ascii"))
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
