"""What the Monitor stage shows in Slack: the alert message (rebuilt from the stored alert on
every change), its thread lines, the deploy-thread reply, and the lines /monitor and /alerts
list (bot.core.monitor.listings). Pure functions."""

from __future__ import annotations

from datetime import datetime

from bot.core.blocks import clip, context, escape, section
from bot.core.monitor.model import (
    Alert,
    AlertSource,
    AlertState,
    CheckKind,
    CheckRecord,
    CheckState,
    NewAlert,
    Silence,
)
from bot.core.monitor.ports import PROXY
from bot.core.values import Block, Reply

ACK, SILENCE, RESOLVE, ROLLBACK = (
    "monitor.ack",
    "monitor.silence",
    "monitor.resolve",
    "monitor.rollback",
)
"""Action ids of the alert buttons; each carries the alert id as its value."""
ACTION_PREFIX = "monitor."

_ICONS = {
    AlertState.OPEN: ":rotating_light:",
    AlertState.ACKNOWLEDGED: ":eyes:",
    AlertState.SILENCED: ":mute:",
    AlertState.RESOLVED: ":white_check_mark:",
}
CHECK_ICONS = {
    CheckState.OK: ":large_green_circle:",
    CheckState.FAILING: ":large_yellow_circle:",
    CheckState.FIRING: ":red_circle:",
    CheckState.RESOLVED: ":large_green_circle:",
}


def stamp(when: datetime) -> str:
    """`2026-01-05 09:00:03 UTC`."""
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def where(alert: Alert) -> str:
    """`web` in `prod`, or the alert's title when no service is known."""
    if alert.service is None:
        return "an unknown service"
    env = f" in `{alert.env}`" if alert.env else ""
    return f"`{alert.service}`{env}"


def _status(alert: Alert) -> str:
    if alert.state is AlertState.RESOLVED:
        by = f" by <@{alert.resolved_by}>" if alert.resolved_by else ""
        at = stamp(alert.resolved_at) if alert.resolved_at else "?"
        return f"*resolved*{by} at {at}"
    if alert.state is AlertState.SILENCED:
        until = stamp(alert.silenced_until) if alert.silenced_until else "?"
        by = f" by <@{alert.silenced_by}>" if alert.silenced_by else ""
        return f"*silenced*{by} until {until}"
    if alert.state is AlertState.ACKNOWLEDGED:
        return f"*acknowledged* by <@{alert.acknowledged_by}>"
    return "*firing*"


def summary(alert: Alert) -> str:
    """The alert in one line: what, where, and its state."""
    return (
        f"{_ICONS[alert.state]} Alert #{alert.id}: {escape(alert.title)} — {where(alert)} "
        f"— {_status(alert)}"
    )


def alert_reply(alert: Alert, previous: Alert | None = None) -> Reply:
    """The alert's own message: what failed, since when, what runs and who shipped it, and
    its buttons while it is unresolved."""
    lines = [summary(alert), f"*What:* {escape(alert.detail)}", f"*Since:* {stamp(alert.since)}"]
    if alert.version or alert.deployed_by:
        by = f" deployed by <@{alert.deployed_by}>" if alert.deployed_by else ""
        lines.append(f"*Running:* `{alert.version or 'unknown'}`{by}")
    if alert.source is AlertSource.ALERTMANAGER:
        labels = ", ".join(f"{k}={v}" for k, v in alert.labels)
        lines.append(f"*Alertmanager labels:* {escape(clip(labels, 1000))}")
    blocks: list[Block] = [section("\n".join(lines))]
    if previous is not None and previous.channel_id and previous.message_ts:
        blocks.append(context(f"Fired before as alert #{previous.id} ({_link(previous)})."))
    if alert.link:
        blocks.append(context(f"Source: {escape(clip(alert.link, 500))}"))
    if alert.open:
        blocks.append(_buttons(alert, rollback=False))
    return Reply(text=clip(summary(alert), 3000), blocks=tuple(blocks), public=True)


def deploy_thread_reply(alert: Alert) -> Reply:
    """The reply in the thread of the deploy the alert follows: who deployed, the version
    before, and a Rollback button (it runs /rollback under the deploy rules)."""
    before = f"`{alert.previous_version}`" if alert.previous_version else "none"
    text = (
        f"{_ICONS[AlertState.OPEN]} <@{alert.deployed_by}>, {where(alert)} is failing since "
        f"this deploy of `{alert.version}`: {escape(alert.title)} ({escape(alert.detail)}). "
        f"Version before: {before}. Alert #{alert.id}."
    )
    blocks: list[Block] = [section(text)]
    if alert.open:
        blocks.append(_buttons(alert, rollback=alert.previous_version is not None))
    return Reply(text=clip(text, 3000), blocks=tuple(blocks), public=True)


def change_line(alert: Alert) -> str:
    """The thread line for the alert's latest change."""
    return f"{_ICONS[alert.state]} {_status(alert)}"


def refire_line(alert: Alert) -> str:
    """The line in an old alert's thread when the same check fires again."""
    return f":repeat: Fired again as alert #{alert.id}."


def _link(alert: Alert) -> str:
    ts = (alert.message_ts or "").replace(".", "")
    return f"https://slack.com/archives/{alert.channel_id}/p{ts}"


def _button(text: str, action: str, alert_id: int, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action,
        "text": {"type": "plain_text", "text": text},
        "value": str(alert_id),
    }
    if style:
        button["style"] = style
    return button


def _buttons(alert: Alert, rollback: bool) -> Block:
    elements = []
    if alert.state is AlertState.OPEN:
        elements.append(_button("Acknowledge", ACK, alert.id, "primary"))
    if alert.state is not AlertState.SILENCED:
        elements.append(_button("Silence 1h", SILENCE, alert.id))
    elements.append(_button("Resolve", RESOLVE, alert.id))
    if rollback:
        elements.append(_button("Rollback", ROLLBACK, alert.id, "danger"))
    return {"type": "actions", "block_id": f"alert-{alert.id}", "elements": elements}


def silence_line(silence: Silence) -> str:
    """`#3 web in prod until … by @alice (deploy window)`."""
    if silence.alert_id is not None:
        what = f"alert #{silence.alert_id}"
    else:
        what = f"`{silence.service}`" + (f" in `{silence.env}`" if silence.env else "")
    why = f" ({escape(silence.reason)})" if silence.reason else ""
    remote = " · also in Alertmanager" if silence.alertmanager_id else ""
    return (
        f":mute: Silence #{silence.id}: {what} until {stamp(silence.until)} by "
        f"<@{silence.created_by}>{why}{remote}"
    )


def check_alert(record: CheckRecord, health: str, detail: str, now: datetime) -> NewAlert:
    """The alert a check fires: what failed (on which instance), the last result, since
    when its failures began."""
    titles = {
        CheckKind.HTTP: f"health check of `{health}` fails",
        CheckKind.CPU: "CPU above its threshold",
        CheckKind.MEMORY: "memory above its threshold",
    }
    on = "" if record.instance == "container" else f" ({record.instance})"
    title = titles[record.kind] + on
    if record.instance == PROXY and record.kind is CheckKind.HTTP:
        title = (
            "its proxy is down: the published port does not answer (opsloop reports it and "
            "never replaces it; `/status` names it and how to start it)"
        )
    return NewAlert(
        source=AlertSource.CHECK,
        key=record.key,
        service=record.service,
        env=record.env,
        title=title,
        detail=detail,
        since=record.since or now,
    )
