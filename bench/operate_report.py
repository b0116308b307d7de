"""bench/results/operate.{json,md} from a run of bench/operate.py."""

from __future__ import annotations

import json
from pathlib import Path


def write_report(results: dict[str, object], folder: Path) -> None:
    """operate.json (every number) and operate.md (the table) in `folder`."""
    folder.mkdir(exist_ok=True)
    (folder / "operate.json").write_text(json.dumps(results, indent=2) + "\n")
    status, logs, parallel, auto, wide = (
        results[k] for k in ("status", "logs", "logs_parallel", "autoscaler", "service_logs_cli")
    )
    for part in (status, logs, parallel, auto, wide):
        assert isinstance(part, dict)

    def row(label: str, r: dict[str, object]) -> str:
        if r["met"] is None:
            return f"| {label} | — | {r['bot_seconds']} s | — | not measured: {r['note']} |\n"
        return (f"| {label} | {r['cli_median']} s | {r['bot_median']} s | {r['ratio']}x | "
                f"{'met' if r['met'] else 'NOT met'} |\n")  # fmt: skip

    (folder / "operate.md").write_text(
        "# Operate through the bot vs the Docker CLI\n\n"
        f"`{results['command']}`, {results['when']}; load average (1 min) "
        f"{results['load_before']} before, {results['load_after']} after, on a 2-core machine "
        "shared with other engineers' test runs.\n\n"
        "Bot: from the slash command to the answer in Slack (`/logs`: to the file in its "
        "thread). CLI: the commands run to completion.\n\n"
        "| | CLI median | bot median | ratio | goal ≤ 1.25x |\n| --- | --- | --- | --- | --- |\n"
        + row("`/status` of 10 replicas vs `docker service ps`", status)
        + row(
            "`/logs --tail 200` (10 replicas) vs `docker service ps -q`, then "
            "`docker service logs --tail 200 <task>` per task, one after the other",
            logs,
        )
        + row("the same, the per-task calls all at once", parallel)
        + f"\n`docker service logs --tail 200` of the whole service, once: returned "
        f"{wide['returned']} after {wide['seconds']} s with {wide['lines']} of "
        f"{wide['of']} lines (cut at 20 s).\n"
        + f"\nAutoscaler reaction (CPU over target from the first task's start → second task "
        f"running): {auto['reaction_seconds']} s; the engine alone scales 1 → 2 in "
        f"{auto['engine_seconds']} s; budget 2 x {auto['interval']} s + engine median = "
        f"{auto['budget']} s: {'met' if auto['met'] else 'NOT met'}.\n"
    )
    print(json.dumps(results, indent=2))
