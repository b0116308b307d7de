"""Every Slack post and edit of the Monitor stage goes through AlertMessages, onto the
persistent outbox (bot/core/outbox.py): each message is recorded in the store before it is
posted, under a key where it must exist once (an alert's message, its reply in a deploy
thread, the line that says it fired again), so a restart or a second process never posts it
twice. The courier posts at one message a second per channel; edits of one message still
waiting their turn are folded into one, with the newest content."""

from __future__ import annotations

from bot.core.monitor.model import Alert
from bot.core.monitor.views import alert_reply, change_line, deploy_thread_reply
from bot.core.outbox import Outbox
from bot.core.values import MessageRef, Reply


class AlertMessages:
    """The alert's message, its thread and its reply in the deploy thread, as outbox rows."""

    def __init__(self, outbox: Outbox, channel_id: str) -> None:
        self.channel_id = channel_id
        self._outbox = outbox

    def post_alert(self, alert: Alert, previous: Alert | None) -> int:
        """Record a new alert's message in the monitor channel; its outbox id."""
        reply = alert_reply(alert, previous)
        return self._outbox.post(self.channel_id, reply, key=f"alert-{alert.id}")

    def show_alert(self, alert: Alert, previous: Alert | None = None) -> None:
        """Edit the alert's message (and its deploy-thread reply) to its current content."""
        if alert.message_id is not None:
            self._outbox.edit(alert.message_id, alert_reply(alert, previous))
        if alert.thread_message_id is not None:
            self._outbox.edit(alert.thread_message_id, deploy_thread_reply(alert))

    def add_line(self, alert: Alert, text: str | None = None, key: str | None = None) -> None:
        """One line in the alert's thread: its latest change, or `text`."""
        if alert.message_id is not None:
            line = Reply(text=text or change_line(alert), public=True)
            self._outbox.reply(alert.message_id, line, key=key)

    def post_in_deploy_thread(self, alert: Alert, announcement_id: int) -> int:
        """Reply in the thread of the deploy's announcement, broadcast to its channel; the
        reply's outbox id."""
        key = f"alert-{alert.id}-deploy-thread"
        reply = deploy_thread_reply(alert)
        return self._outbox.reply(announcement_id, reply, key=key, broadcast=True)

    def located(self, message_id: int) -> MessageRef | None:
        """Where a recorded message is in Slack, once it was posted."""
        return self._outbox.ref(message_id)
