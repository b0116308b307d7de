"""What `/ops processes` shows: the opsloop processes alive on this store, and which holds
which lease since when, all read on the database's clock."""

from __future__ import annotations

from datetime import datetime

from bot.core.leases import Lease, LeaseView
from bot.core.values import Reply


def processes_reply(view: LeaseView, me: str, alive_within: float) -> Reply:
    """The processes seen within `alive_within` seconds (this one marked) and each lease
    with its holder, epoch and expiry; a lease that ran out is shown as free."""
    holders = {lease.holder: lease for lease in view.leases if lease.expires_at > view.now}
    lines = [
        f"*opsloop processes* ({len(view.processes)} alive: seen in the last "
        f"{alive_within:g} s, by the database's clock {_at(view.now)})"
    ]
    for beat in view.processes:
        mark = " (this one)" if beat.process_id == me else ""
        held = holders.get(beat.process_id)
        holds = f", holds `{held.name}`" if held else ""
        lines.append(
            f"• `{beat.process_id}`{mark}: pid {beat.pid} on {beat.host}, up since "
            f"{_at(beat.started_at)}, last seen {_ago(view.now, beat.seen_at)}{holds}"
        )
    if not view.processes:
        lines.append("• none (the store has no recent heartbeat)")
    lines.append("*Leases*")
    lines += [_lease_line(lease, view.now) for lease in view.leases]
    if not view.leases:
        lines.append("• none taken yet")
    return Reply(text="\n".join(lines))


def _lease_line(lease: Lease, now: datetime) -> str:
    if lease.expires_at <= now:
        return (
            f"• `{lease.name}`: free since {_at(lease.expires_at)} "
            f"(last held by `{lease.holder}`, epoch {lease.epoch})"
        )
    left = (lease.expires_at - now).total_seconds()
    return (
        f"• `{lease.name}`: held by `{lease.holder}` since {_at(lease.since)} "
        f"(epoch {lease.epoch}, runs out in {left:.0f} s unless renewed)"
    )


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0.0, (now - then).total_seconds())
    return f"{seconds:.0f} s ago"
