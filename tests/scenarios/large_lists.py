"""Driving a paged list through the local workspace as a person would: type the command, read
the page once what is slow has been edited in, click Previous, Next and Export. The
workspace checks Slack's block and character limits on every message the bot sends."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.deploy.model import DeployKind, DeployState, NewDeploy
from bot.core.listing import ListAction
from bot.core.monitor.model import AlertSource, AlertState, NewAlert
from bot.workspace import Ephemeral
from tests.scenarios.conftest import Harness

DEADLINE = 30.0
PENDING = ":hourglass_flowing_sand:"
"""What a page shows while a part of it is still being read."""


def text_of(blocks: list[dict[str, object]]) -> str:
    """The sections' text and the buttons' labels (as `[Next]`)."""
    parts = []
    for block in blocks:
        section = block.get("text")
        if isinstance(section, dict):
            parts.append(str(section.get("text", "")))
        for element in block.get("elements", []) or []:  # type: ignore[attr-defined]
            label = element.get("text")
            parts.append(f"[{label['text']}]" if isinstance(label, dict) else str(label or ""))
    return "\n".join(parts)


@dataclass
class Lists:
    """One person's view of the lists in one channel."""

    harness: Harness
    user: str = "U0ALICE"
    channel: str = "C0DEV"

    def _ephemerals(self) -> list[Ephemeral]:
        return list(self.harness.workspace.ephemerals(self.channel, self.user))

    def show(self, command: str, text: str = "") -> tuple[str, str]:
        """Send the command; (the ts of its answer, the answer's text once nothing in it is
        pending). A slow answer may come after a "Preparing…" message: the last answer
        that settles is the one."""
        before = len(self._ephemerals())
        self.harness.slack.slash(command, text, user_id=self.user, channel_id=self.channel)

        def answered() -> str | None:
            fresh = [e.ts for e in self._ephemerals()[before:]]
            done = [ts for ts in fresh if PENDING not in self._shown(ts)]
            return done[-1] if done else None

        ts = str(self.harness.workspace.wait_for(answered, timeout=DEADLINE))
        return ts, self._shown(ts)

    def answer(self, command: str, text: str = "") -> str:
        """Send the command and return its answer's text (a refusal has no blocks)."""
        return self.show(command, text)[1]

    def settled(self, ts: str) -> str:
        """The message's text once it shows nothing pending (and no "Preparing…")."""

        def done() -> str | None:
            shown = self._shown(ts)
            return shown if PENDING not in shown else None

        found = self.harness.workspace.wait_for(done, timeout=DEADLINE)
        return str(found)

    def _message(self, ts: str) -> Ephemeral:
        (message,) = [e for e in self._ephemerals() if e.ts == ts]
        return message

    def _shown(self, ts: str) -> str:
        message = self._message(ts)
        return text_of(message.blocks) if message.blocks else message.text

    def click(self, ts: str, label: str) -> str:
        """Click the button labelled `label` under the list; the text of the page it shows
        (the same message, edited), once nothing is pending."""
        message = self._message(ts)
        button = next(
            element
            for block in message.blocks or []
            if block["type"] == "actions"
            for element in block["elements"]
            if element["text"]["text"] == label
        )
        before = self._shown(ts)
        self.harness.slack.block_action(
            self.user, self.channel, ts, button["action_id"], button["value"]
        )
        if button["action_id"] == ListAction.EXPORT.value:
            return before
        self.harness.workspace.wait_for(lambda: self._shown(ts) != before, timeout=DEADLINE)
        return self.settled(ts)

    def export(self, ts: str, filename: str) -> list[list[str]]:
        """Click Export and read the CSV file shared in the channel."""
        ws = self.harness.workspace
        self.click(ts, "Export all as CSV")

        def shared() -> object | None:
            return next((f for f in ws.files() if f.completed and f.filename == filename), None)

        found = ws.wait_for(shared, timeout=DEADLINE)
        assert self.channel in getattr(found, "channels", ())
        content = bytes(getattr(found, "content", b"") or b"").decode()
        return list(csv.reader(io.StringIO(content)))


def pages(lists: Lists, ts: str, first: str, total: int) -> str:
    """Turn Next until the last page, checking each "items a-b of total"; then Previous
    once. Returns the last page's text."""
    page = first
    start = 41
    while start <= total:
        page = lists.click(ts, "Next")
        assert f"items {start}-{min(start + 39, total)} of {total}" in page, page[:300]
        start += 40
    assert "[Next]" not in page and "[Previous]" in page
    back = lists.click(ts, "Previous")
    last_start = start - 80
    assert f"items {last_start}-{last_start + 39} of {total}" in back
    return page


def seed_deploy(harness: Harness, service: str, env: str, user: str) -> None:
    """A succeeded deploy of `service` to `env` by `user`, as the store keeps it."""
    desk = harness.bot.services.deploys
    assert desk is not None
    now = datetime.now(UTC)
    request, _ = desk.store.create(
        NewDeploy(
            kind=DeployKind.DEPLOY, service=service, env=env, version="1.0.0",
            from_version=None, image=f"127.0.0.1:5000/{service}", digest="", requester=user,
            channel_id="C0DEV", approvals_needed=0, created_at=now - timedelta(hours=2),
            expires_at=None, shipped="", changes=(),
        )
    )  # fmt: skip
    for source, target in ((DeployState.PENDING, DeployState.APPROVED),
                           (DeployState.APPROVED, DeployState.RUNNING),
                           (DeployState.RUNNING, DeployState.SUCCEEDED)):  # fmt: skip
        assert desk.store.transition(request.id, source, target, now)


def seed_alert(harness: Harness, service: str, env: str, state: AlertState) -> int:
    """An open alert about `service` in `env` in the given state, straight into the store
    (no message: announcing many alerts would wait on Slack's rate limit)."""
    monitoring = harness.bot.services.monitor
    assert monitoring is not None
    now = datetime.now(UTC)
    alert, created = monitoring.desk.store.open_alert(
        NewAlert(AlertSource.CHECK, f"{service}/{env}/http", service, env,
                 "health path failing", "HTTP 500", now),
        None, state, now, None,
    )  # fmt: skip
    assert created
    return alert.id
