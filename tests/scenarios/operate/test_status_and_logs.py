"""/status and /logs on the real engine, through the local workspace."""

from __future__ import annotations

import re
import time

from bot.workspace.model import Message
from tests.scenarios.operate.support import (
    BURST_LINES,
    DEADLINE,
    SECRET,
    Bot,
    Images,
    bot,
    create_service,
    operate_images,
    poll,
    swarm,
    wait_running,
)
from tests.scenarios.replies import _readable, reply_to

__all__ = ["bot", "operate_images", "swarm"]


def _answers(bot: Bot, user: str = "U0ALICE") -> list[str]:
    return [_readable(e) for e in bot.ws.ephemerals("C0DEV", user)]


def _ask(bot: Bot, command: str, text: str, user: str = "U0ALICE") -> str:
    """Send a command and return the answer it gets."""
    count = len(_answers(bot, user))
    bot.say(user, command, text)
    return reply_to(bot.harness, user, nth=count + 1)


def _ask_until(bot: Bot, text: str, wanted: str) -> str:
    """Send `/logs text` until the answer contains `wanted`; that answer."""
    until = time.monotonic() + DEADLINE
    while True:
        count = len(_answers(bot))
        bot.say("U0ALICE", "/logs", text)
        said = reply_to(bot.harness, "U0ALICE", nth=count + 1)
        if wanted in said or time.monotonic() > until:
            assert wanted in said, said
            return said


def test_status_of_a_healthy_and_a_crash_looping_service(bot: Bot, operate_images: Images) -> None:
    create_service(bot.client, bot.service, "staging", operate_images.web, 2, cpu=0.5)
    create_service(bot.client, bot.service, "prod", operate_images.crash, 1)
    wait_running(bot.ws, bot.client, bot.service, "staging", 2)

    started = time.monotonic()
    bot.say("U0ALICE", "/status", f"{bot.service} staging")
    first = reply_to(bot.harness, "U0ALICE")
    assert time.monotonic() - started < 3.0
    assert f"`{bot.service}` in `staging`" in first and "`1.0.0`" in first
    assert "2/2 running" in first and "0.5 CPU" in first
    assert first.count(":large_green_circle: `") == 2  # one line per task
    # CPU and memory are edited into the same answer once read.
    bot.ws.wait_for(lambda: "of limit" in _answers(bot)[0], timeout=DEADLINE)
    assert len(_answers(bot)) == 1

    # The crash-looping service shows no running task and its failed attempts.
    def crashed() -> str | None:
        count = len(_answers(bot))
        bot.say("U0ALICE", "/status", f"{bot.service} prod")
        said = reply_to(bot.harness, "U0ALICE", nth=count + 1)
        return said if "earlier task(s)" in said else None

    said = bot.ws.wait_for(crashed, timeout=DEADLINE)
    assert "0/1 running" in said and ":red_circle:" in said

    bot.say("U0CAROL", "/status", "")
    everything = reply_to(bot.harness, "U0CAROL")
    # Every deployment, one row each, from one engine listing.
    assert "3 deployments: 1 unhealthy" in everything
    assert f"*{bot.service}* `staging` · `1.0.0` · swarm 2/2 running" in everything
    assert f"*{bot.service}* `prod` · `1.0.0` · swarm 0/1 running" in everything
    assert f"*{bot.service}* `box` · not deployed" in everything


def test_status_of_an_unknown_service_or_environment_changes_nothing(bot: Bot) -> None:
    bot.say("U0ALICE", "/status", "nosuch")
    assert "Unknown service `nosuch`" in reply_to(bot.harness, "U0ALICE")
    bot.say("U0ALICE", "/status", f"{bot.service} moon")
    assert "Unknown environment `moon`" in reply_to(bot.harness, "U0ALICE", nth=2)


def test_logs_tail_grep_since_and_secrets(bot: Bot, operate_images: Images) -> None:
    create_service(bot.client, bot.service, "staging", operate_images.web, 2)
    tasks = wait_running(bot.ws, bot.client, bot.service, "staging", 2)
    # Each task logs ten lines a second: ask until both have three to show.
    lines = _ask_until(bot, f"{bot.service} staging --tail 3", ": 6 line(s)")
    shown = [line.split() for line in lines.split("```")[1].splitlines() if line]
    # Each line: its task, its time, its text.
    assert {task[:12] for task in tasks} == {words[0].strip("`") for words in shown}
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", words[1]) for words in shown), shown
    assert all(words[2] == "tick" for words in shown), shown
    assert SECRET not in lines and "token=[redacted]" in lines

    grepped = _ask(bot, "/logs", f'{bot.service} staging --since 1m --grep "tick 1" --tail 1000')
    body = grepped.split("```")[1]
    assert body and all("tick 1" in line for line in body.splitlines() if line)

    said = _ask(bot, "/logs", f'{bot.service} staging --grep "no such line"')
    assert "Nothing matched" in said
    # A plain substring: neither a pattern nor a shell sees it.
    for text in ("tick.1", "tick [0-9]", "$(echo tick)", "`echo tick`"):
        said = _ask(bot, "/logs", f"{bot.service} staging --grep '{text}'")
        assert "Nothing matched" in said, (text, said)


def test_long_logs_come_as_a_file_in_a_thread(bot: Bot, operate_images: Images) -> None:
    create_service(bot.client, bot.service, "staging", operate_images.web, 1)
    wait_running(bot.ws, bot.client, bot.service, "staging", 1)

    _ask_until(bot, f"{bot.service} staging --tail 60", "uploaded as")
    note = [m for m in bot.ws.messages("C0DEV") if m.is_bot and "Logs of" in m.text][-1]
    thread = bot.ws.wait_for(lambda: bot.ws.thread("C0DEV", note.ts)[1:], timeout=DEADLINE)
    assert thread[0].files
    uploaded = next(f for f in bot.ws.files() if f.id in thread[0].files)
    content = bytes(uploaded.content).decode()
    count = len(content.splitlines())
    assert 40 < count <= 60 and f"{count} line(s)" in note.text
    assert SECRET not in content and "token=[redacted]" in content

    # Forty lines are still answered inline; one more is a file.
    inline = _ask(bot, "/logs", f"{bot.service} staging --tail 40")
    assert ": 40 line(s)" in inline and inline.count(" tick ") == 40
    files = len(bot.ws.files())
    assert "41 line(s): uploaded as" in _ask(bot, "/logs", f"{bot.service} staging --tail 41")
    bot.ws.wait_for(lambda: len(bot.ws.files()) == files + 1, timeout=DEADLINE)


def test_every_task_of_a_service_gives_its_lines_in_full(bot: Bot, operate_images: Images) -> None:
    # 5 tasks of 600 lines: a read through the engine's service-wide log endpoint (what
    # `docker service logs` uses) never ends on this engine for that much output; some
    # tasks' lines never arrive and the answer was cut short at the time limit.
    create_service(bot.client, bot.service, "staging", operate_images.burst, 5)
    tasks = wait_running(bot.ws, bot.client, bot.service, "staging", 5)

    def written(task: str) -> bool:
        found = bot.client.api.inspect_task(task)["Status"]["ContainerStatus"]["ContainerID"]
        return bot.client.api.logs(found, tail=BURST_LINES).count(b"\n") >= BURST_LINES

    poll(lambda: all(written(task) for task in tasks), DEADLINE, "every task's lines")
    files = len(bot.ws.files())
    bot.say("U0ALICE", "/logs", f"{bot.service} staging --tail 1000")
    # The answer (after "Reading the engine…" when the read is slow) names the file.
    said = bot.ws.wait_for(
        lambda: next((a for a in _answers(bot) if "uploaded as" in a), None), timeout=DEADLINE
    )
    assert f"{5 * BURST_LINES} line(s): uploaded as" in said, said
    bot.ws.wait_for(lambda: len(bot.ws.files()) == files + 1, timeout=DEADLINE)
    note = [m for m in bot.ws.messages("C0DEV") if m.is_bot and "Logs of" in m.text][-1]
    assert "Cut short" not in note.text
    lines = bytes(bot.ws.files()[-1].content).decode().splitlines()
    assert len(lines) == 5 * BURST_LINES
    assert {line.split()[0] for line in lines} == {task[:12] for task in tasks}
    for task in tasks:
        mine = [line.split()[-1] for line in lines if line.startswith(task[:12])]
        assert sorted(mine, key=int) == [str(n) for n in range(1, BURST_LINES + 1)]


def test_since_leaves_out_older_lines(bot: Bot, operate_images: Images) -> None:
    # The burst's 600 lines are written at start, then the task is quiet.
    create_service(bot.client, bot.service, "staging", operate_images.burst, 1)
    wait_running(bot.ws, bot.client, bot.service, "staging", 1)

    _ask_until(bot, f"{bot.service} staging --since 1h --tail 1000",
               f"{BURST_LINES} line(s): uploaded as")  # fmt: skip
    # Once the burst is more than three seconds old, --since 3s shows none of it.
    quiet = _ask_until(bot, f"{bot.service} staging --since 3s --tail 1000", ": 0 line(s)")
    assert "burst" not in quiet


def test_a_chatty_service_is_cut_at_the_size_cap(bot: Bot, operate_images: Images) -> None:
    # 1,500 lines of 3,000 characters: the last 1,000 are 3 MB, over the 2 MB cap.
    create_service(bot.client, bot.service, "staging", operate_images.loud, 1)
    wait_running(bot.ws, bot.client, bot.service, "staging", 1)

    # Ask until the task has written enough to pass the cap (it writes for a moment).
    def cut() -> Message | None:
        _ask(bot, "/logs", f"{bot.service} staging --tail 1000")
        notes = [m for m in bot.ws.messages("C0DEV") if m.is_bot and "Logs of" in m.text]
        return notes[-1] if notes and "Cut short" in notes[-1].text else None

    note = poll(cut, DEADLINE, "a cut-short answer")
    thread = bot.ws.wait_for(lambda: bot.ws.thread("C0DEV", note.ts)[1:], timeout=DEADLINE)
    uploaded = next(f for f in bot.ws.files() if f.id in thread[0].files)
    lines = bytes(uploaded.content).decode().splitlines()
    # About 2 MB of 3,000-character lines, each kept to its first 1,000 characters.
    assert 600 <= len(lines) < 1000, len(lines)
    assert all(len(line) < 1100 for line in lines)


def test_bad_log_options_get_a_clear_answer(bot: Bot) -> None:
    bot.say("U0ALICE", "/logs", f"{bot.service} staging --since 15x")
    assert "not a duration like 30m" in reply_to(bot.harness, "U0ALICE")
    bot.say("U0ALICE", "/logs", f"{bot.service} staging --tail many")
    assert "not a whole number" in reply_to(bot.harness, "U0ALICE", nth=2)
    bot.say("U0ALICE", "/logs", f"{bot.service} staging --grep")
    assert "needs a <text>" in reply_to(bot.harness, "U0ALICE", nth=3)
    assert "from 1 to 1000" in _ask(bot, "/logs", f"{bot.service} staging --tail 5000")
    assert "Unknown service `nosuch`" in _ask(bot, "/logs", "nosuch staging")
    assert "Unknown environment `moon`" in _ask(bot, "/logs", f"{bot.service} moon")
    assert "Missing <env>" in _ask(bot, "/logs", bot.service)
    assert not [m for m in bot.ws.messages("C0DEV") if m.is_bot]
