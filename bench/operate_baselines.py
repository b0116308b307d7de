"""What a user runs for the logs of a 10-task service: `docker service logs --tail 200` of
the whole service (which does not return on this engine; see bench/results/operate.md),
and the per-task fallback, one after the other or all at once."""

from __future__ import annotations

import subprocess
import time

CLI_TIMEOUT = 60.0
SHORT_BASELINES: list[list[int]] = []
"""Per-task baseline rounds whose tasks did not each give 200 lines (should stay empty)."""


def service_wide(name: str) -> dict[str, object]:
    """One `docker service logs --tail 200` of the whole service, cut at 20 s."""
    started = time.perf_counter()
    try:
        done = subprocess.run(["docker", "service", "logs", "--tail", "200", name],
                              check=False, capture_output=True, timeout=20)  # fmt: skip
        lines, returned = done.stdout.count(b"\n"), True
    except subprocess.TimeoutExpired as cut:
        lines, returned = (cut.stdout or b"").count(b"\n"), False
    return {"returned": returned, "lines": lines, "of": 2000,
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


def per_task(name: str, at_once: bool) -> float:
    """`docker service ps -q` for the running tasks, then `docker service logs --tail 200`
    of each: one after the other, or all at once. Checks every task gave 200 lines."""
    started = time.perf_counter()
    listed = subprocess.run(
        ["docker", "service", "ps", "-q", "--filter", "desired-state=running", name],
        check=True, capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip
    argvs = [["docker", "service", "logs", "--tail", "200", task]
             for task in listed.stdout.split()]  # fmt: skip
    if at_once:
        running = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                   for a in argvs]  # fmt: skip
        outputs = [p.communicate(timeout=CLI_TIMEOUT)[0] for p in running]
    else:
        outputs = [subprocess.run(a, check=True, capture_output=True,
                                  timeout=CLI_TIMEOUT).stdout for a in argvs]  # fmt: skip
    took = time.perf_counter() - started
    counts = [o.count(b"\n") for o in outputs]
    if counts != [200] * 10:  # recorded, not fatal: the run's other numbers still stand
        SHORT_BASELINES.append(counts)
    return took
