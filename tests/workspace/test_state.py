"""Seed data, snapshot, waiting without sleeping, and concurrent use."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from slack_sdk import WebClient

from bot.workspace import HttpReply, SlackWorkspace
from tests.workspace.conftest import TOKEN


def test_seed_data(workspace: SlackWorkspace) -> None:
    alice = workspace.user("U0ALICE")
    assert alice is not None and (alice.name, alice.email) == ("alice", "alice@example.com")
    assert {c: workspace.channel(c).name for c in ("C0OPS", "C0DEV", "C0TEAM")} == {  # type: ignore[union-attr]
        "C0OPS": "ops",
        "C0DEV": "dev",
        "C0TEAM": "team",
    }
    assert all(workspace.user(u) for u in ("U0BOB", "U0CAROL", "U0DAVE", "U0BOT"))


def test_snapshot_is_json_with_threads_reactions_and_ephemerals(
    workspace: SlackWorkspace, web: WebClient
) -> None:
    parent = web.chat_postMessage(channel="C0OPS", text="deploy")["ts"]
    web.chat_postMessage(channel="C0OPS", text="step", thread_ts=parent)
    web.chat_update(channel="C0OPS", ts=parent, text="deployed")
    workspace.user_react("U0BOB", "C0OPS", parent, "tada")
    web.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="psst")
    snap = json.loads(json.dumps(workspace.snapshot()))
    ops = next(c for c in snap["channels"] if c["id"] == "C0OPS")
    [msg] = ops["messages"]
    assert (msg["text"], msg["edit_count"], msg["is_bot"]) == ("deployed", 1, True)
    assert [r["text"] for r in msg["replies"]] == ["step"]
    assert msg["reactions"] == [{"name": "tada", "users": ["U0BOB"], "count": 1}]
    assert [e["text"] for e in ops["ephemerals"]["U0ALICE"]] == ["psst"]
    assert {u["id"]: u["email"] for u in snap["users"]}["U0ALICE"] == "alice@example.com"
    assert snap["team"]["id"] == "T0OPSLOOP"


def test_wait_for_wakes_on_change(workspace: SlackWorkspace, web: WebClient) -> None:
    later = threading.Timer(0.1, lambda: web.chat_postMessage(channel="C0OPS", text="late"))
    later.start()
    found = workspace.wait_for(lambda: workspace.messages("C0OPS"), timeout=5)
    later.join()
    assert [m.text for m in found] == ["late"]


def test_wait_for_times_out_with_a_description(workspace: SlackWorkspace) -> None:
    with pytest.raises(TimeoutError, match="a reply in ops"):
        workspace.wait_for(lambda: workspace.messages("C0OPS"), 0.2, "a reply in ops")


def test_concurrent_posts_all_land_with_unique_ts(workspace: SlackWorkspace) -> None:
    def poster(n: int) -> None:
        web = WebClient(token=TOKEN, base_url=workspace.api_url)
        for i in range(15):
            web.chat_postMessage(channel="C0DEV", text=f"{n}-{i}")

    threads = [threading.Thread(target=poster, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = [m.ts for m in workspace.messages("C0DEV")]
    assert len(stamps) == 90 and len(set(stamps)) == 90
    assert stamps == sorted(stamps, key=float)
    assert len(workspace.calls_to("chat.postMessage")) == 90


def test_stop_is_idempotent_and_base_url_needs_start() -> None:
    workspace = SlackWorkspace(bot_token=TOKEN)
    with pytest.raises(RuntimeError):
        _ = workspace.api_url
    workspace.start()
    assert workspace.api_url.endswith("/api/")
    workspace.stop()
    workspace.stop()


def test_mounts_never_shadow_the_api(workspace: SlackWorkspace, web: WebClient) -> None:
    workspace.mount("/", lambda req: HttpReply.text(200, "page"))
    workspace.mount("/console/", lambda req: HttpReply.text(200, "console " + req.path))
    assert web.auth_test()["ok"] is True
    assert httpx.get(workspace.base_url + "anything").text == "page"
    assert httpx.get(workspace.base_url + "console/x").text == "console /console/x"
