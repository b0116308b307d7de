"""/monitor and /alerts as lists (bot.core.listing): counts first, one line per check or
alert, filters on environment, service or prefix, state and `mine`. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.blocks import escape
from bot.core.listing import Filters, Listing
from bot.core.monitor.model import Alert, AlertState, CheckRecord, CheckState, Silence
from bot.core.monitor.views import CHECK_ICONS, silence_line, stamp, summary

ALERT_WORDS = {
    AlertState.OPEN: "firing",
    AlertState.ACKNOWLEDGED: "acknowledged",
    AlertState.SILENCED: "silenced",
}
"""The words /alerts filters open alerts by (an open alert is one that fires)."""
SILENCES = "silences"
"""The /alerts filter word that shows the silences in force (alone: only them)."""
ALERT_STATES = (*ALERT_WORDS.values(), SILENCES)
CHECK_STATES = tuple(state.value for state in CheckState)

CHECK_COLUMNS = (
    "check", "service", "environment", "instance", "kind", "state", "failures in a row",
    "passes in a row", "since", "last result", "last run", "latency ms",
)  # fmt: skip
ALERT_COLUMNS = (
    "kind", "id", "state", "service", "environment", "title", "detail", "since", "by", "until",
)  # fmt: skip


def checks_listing(records: Sequence[CheckRecord], filters: Filters) -> Listing:
    """/monitor: every check under the filters, firing and failing counted first. Naming a
    service shows each check's last result and latency; otherwise only the failing ones'."""
    scoped = sorted(
        (r for r in records if filters.service(r.service) and filters.env(r.env)),
        key=lambda record: record.key,
    )
    kept = [r for r in scoped if filters.state(r.state.value)]
    counts = {state: sum(r.state is state for r in scoped) for state in CheckState}
    summary_line = (
        f"{len(scoped)} checks: {counts[CheckState.FIRING]} firing, "
        f"{counts[CheckState.FAILING]} failing, "
        f"{counts[CheckState.OK] + counts[CheckState.RESOLVED]} passing"
    )
    if len(kept) != len(scoped):
        summary_line += f" · {len(kept)} shown"
    detailed = bool(filters.services)
    return Listing(
        title="Checks",
        summary=summary_line,
        rows=tuple(_check_line(r, detailed) for r in kept),
        columns=CHECK_COLUMNS,
        records=tuple(_check_record(r) for r in kept),
        empty="No check matches." if records else "No checks have run yet.",
    )


def _check_line(record: CheckRecord, detailed: bool) -> str:
    line = f"{CHECK_ICONS[record.state]} `{record.key}` — {record.state.value}"
    if detailed or record.state is not CheckState.OK:
        latency = f", {record.latency_ms:.0f} ms" if record.latency_ms is not None else ""
        at = f" at {stamp(record.last_at)}" if record.last_at else ""
        line += f" · last: {escape(record.last_detail)}{latency}{at}"
    return line


def _check_record(record: CheckRecord) -> tuple[str, ...]:
    return (
        record.key, record.service, record.env, record.instance, record.kind.value,
        record.state.value, str(record.failures), str(record.passes), _iso(record.since),
        record.last_detail, _iso(record.last_at),
        "" if record.latency_ms is None else f"{record.latency_ms:.0f}",
    )  # fmt: skip


def alerts_listing(
    alerts: Sequence[Alert], silences: Sequence[Silence], filters: Filters, user: str
) -> Listing:
    """/alerts: open alerts newest first, then the silences in force. A state word keeps
    those alerts (`silences`: the silences); `mine` keeps what the person acknowledged,
    silenced or deployed."""
    scoped = [a for a in alerts if _where_passes(filters, a.service, a.env)]
    alert_states = filters.states - {SILENCES}
    kept = [
        a
        for a in scoped
        if (not filters.states or ALERT_WORDS.get(a.state, "") in alert_states)
        and (not filters.mine or user in (a.acknowledged_by, a.silenced_by, a.deployed_by))
    ]
    in_force = [s for s in silences if _where_passes(filters, s.service, s.env)]
    shown_silences = [
        s
        for s in in_force
        if (not filters.states or SILENCES in filters.states)
        and (not filters.mine or s.created_by == user)
    ]
    counts = {state: sum(a.state is state for a in scoped) for state in ALERT_WORDS}
    line = f"{len(scoped)} open alerts: " + ", ".join(
        f"{counts[state]} {word}" for state, word in ALERT_WORDS.items()
    )
    line += f" · {len(in_force)} silences in force"
    if len(kept) + len(shown_silences) != len(scoped) + len(in_force):
        line += f" · {len(kept) + len(shown_silences)} shown"
    rows = [summary(alert) for alert in kept] + [silence_line(s) for s in shown_silences]
    records = [_alert_record(a) for a in kept] + [_silence_record(s) for s in shown_silences]
    return Listing(
        title="Alerts",
        summary=line,
        rows=tuple(rows),
        columns=ALERT_COLUMNS,
        records=tuple(records),
        empty="No open alert or silence matches." if alerts or silences else "No open alerts.",
    )


def _where_passes(filters: Filters, service: str | None, env: str | None) -> bool:
    """Whether an alert or silence passes the service and environment filters (one that
    names no service passes only when no service is asked for)."""
    if service is None:
        return not filters.services and not filters.prefixes and filters.env(env)
    return filters.service(service) and filters.env(env)


def _alert_record(alert: Alert) -> tuple[str, ...]:
    by = alert.acknowledged_by or alert.silenced_by or ""
    return (
        "alert", str(alert.id), ALERT_WORDS.get(alert.state, alert.state.value),
        alert.service or "", alert.env or "", alert.title, alert.detail, _iso(alert.since),
        by, _iso(alert.silenced_until),
    )  # fmt: skip


def _silence_record(silence: Silence) -> tuple[str, ...]:
    what = f"alert #{silence.alert_id}" if silence.alert_id is not None else ""
    return (
        "silence", str(silence.id), "in force", silence.service or "", silence.env or "",
        what, silence.reason, _iso(silence.created_at), silence.created_by,
        _iso(silence.until),
    )  # fmt: skip


def _iso(when: datetime | None) -> str:
    return when.isoformat(timespec="seconds") if when else ""
