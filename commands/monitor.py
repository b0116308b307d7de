"""Monitor: scheduled checks and the alerts they raise.

    /monitor [service] [env]                                every check, or one service's
    /alerts                                                 open alerts and silences
    /alerts ack <id>      /alerts resolve <id>
    /alerts silence <service> [env] <duration> [reason]     at most 30 days
    /alerts unsilence <silence id | service [env]>

The alert's message and its thread show every change to everyone; the commands answer the
person who typed them. Each alert message has Acknowledge, Silence 1h and Resolve buttons;
its reply in a deploy's thread adds Rollback, which asks for /rollback under the deploy
rules. Commands are audited by the router; the buttons are audited here.
"""

from __future__ import annotations

from bot.core.deploy.desk import Ask
from bot.core.deploy.model import DeployKind
from bot.core.errors import NotAvailableYet, NotFound, UsageError
from bot.core.monitor.model import Alert, Silence
from bot.core.monitor.stage import Monitoring, watched_of
from bot.core.monitor.views import (
    ACK,
    ACTION_PREFIX,
    RESOLVE,
    ROLLBACK,
    SILENCE,
    alerts_reply,
    checks_reply,
    silence_line,
    stamp,
    summary,
)
from bot.core.parsing import duration_seconds
from bot.core.values import AuditEntry, Click, Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.dependencies import Services

STAGE = "Monitor"
SILENCE_BUTTON_SECONDS = 3600

_ID = Arg("id", help="the alert's number, as in `/alerts`")


def register(registry: Registry, services: Services) -> None:
    """Declare /monitor and /alerts, and the alert buttons."""
    stage = _MonitorStage(services)
    verbs = (
        Verb("monitor", "Every check and its state; one service's checks with their last "
             "results and latency.", STAGE, stage.monitor,
             args=(Arg("service", ArgKind.SERVICE, optional=True),
                   Arg("env", ArgKind.ENVIRONMENT, optional=True))),
        Verb("alerts", "Open alerts, newest first, and the silences in force.", STAGE,
             stage.alerts),
        Verb("alerts ack", "Acknowledge an alert: you are on it.", STAGE, stage.ack,
             args=(_ID,)),
        Verb("alerts resolve", "Resolve an alert by hand.", STAGE, stage.resolve, args=(_ID,)),
        Verb("alerts silence", "Silence a service's alerts for a while (at most 30 days).",
             STAGE, stage.silence,
             args=(Arg("service", ArgKind.SERVICE),
                   Arg("env", ArgKind.ENVIRONMENT, optional=True),
                   Arg("duration", ArgKind.DURATION),
                   Arg("reason", optional=True, rest=True))),
        Verb("alerts unsilence", "End a silence, by its number or by service.", STAGE,
             stage.unsilence,
             args=(Arg("silence", help="a silence number or a service"),
                   Arg("env", ArgKind.ENVIRONMENT, optional=True))),
    )  # fmt: skip
    for verb in verbs:
        registry.add(verb)
    registry.on_click(ACTION_PREFIX, stage.click)


class _MonitorStage:
    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def monitoring(self) -> Monitoring:
        monitoring = self._services.monitor
        if monitoring is None:
            raise NotAvailableYet("Monitoring is not wired in this bot.")
        return monitoring

    def monitor(self, invocation: Invocation) -> Reply:
        """Every check, or one service's (in one environment) with last results."""
        service, env = invocation.opt("service"), invocation.opt("env")
        records = self.monitoring.checks()
        if service is None:
            return checks_reply(records, "Checks", detailed=False)
        where = f"`{service}`" + (f" in `{env}`" if env else "")
        return checks_reply(watched_of(records, service, env), f"Checks of {where}", True)

    def alerts(self, invocation: Invocation) -> Reply:
        """Open alerts and silences."""
        del invocation
        return alerts_reply(self.monitoring.open_alerts(), self.monitoring.silences())

    def ack(self, invocation: Invocation) -> Reply:
        """Acknowledge an alert."""
        alert = self.monitoring.desk.acknowledge(_alert_id(invocation.arg("id")),
                                                 invocation.user_id)  # fmt: skip
        return Reply(text=f":eyes: {summary(alert)}")

    def resolve(self, invocation: Invocation) -> Reply:
        """Resolve an alert by hand."""
        alert = self.monitoring.desk.resolve(_alert_id(invocation.arg("id")), invocation.user_id)
        return Reply(text=summary(alert))

    def silence(self, invocation: Invocation) -> Reply:
        """Silence a service's alerts."""
        reason = " ".join(invocation.args.get("reason", "").split())[:300]
        silence = self.monitoring.desk.silence(
            user=invocation.user_id, seconds=duration_seconds(invocation.arg("duration")),
            reason=reason, service=invocation.arg("service"), env=invocation.opt("env"),
        )  # fmt: skip
        return Reply(text=silence_line(silence))

    def unsilence(self, invocation: Invocation) -> Reply:
        """End a silence by number, or every silence of a service (in one environment)."""
        which, env = invocation.arg("silence").lstrip("#"), invocation.opt("env")
        desk = self.monitoring.desk
        if which.isdecimal():
            if env is not None:
                raise UsageError("Give a silence number or a service with its environment.")
            found = desk.store.silence(int(which))
            chosen = [found] if found is not None and found.active(desk.now()) else []
            missing = f"There is no silence #{which} in force."
        else:
            if which not in self._services.config.services:
                known = ", ".join(f"`{n}`" for n in sorted(self._services.config.services))
                raise NotFound(f"Unknown service `{which[:40]}`. Known services: {known}.")
            chosen = [s for s in self.monitoring.silences()
                      if s.service == which and (env is None or s.env == env)]  # fmt: skip
            missing = f"No silence of `{which}`" + (f" in `{env}`" if env else "") + " is in force."
        if not chosen:
            raise NotFound(missing + " `/alerts` lists them.")
        ended = desk.unsilence(chosen, invocation.user_id)
        return Reply(text="\n".join(_ended(s, invocation.user_id) for s in ended) or missing)

    def click(self, click: Click) -> Reply | None:
        """Acknowledge, Silence 1h, Resolve and Rollback on an alert; audited."""
        desk = self.monitoring.desk
        alert_id = _alert_id(click.value)
        said: Reply | None
        if click.action_id == ACK:
            desk.acknowledge(alert_id, click.user_id)
            said = None
        elif click.action_id == SILENCE:
            silence = desk.silence(user=click.user_id, seconds=SILENCE_BUTTON_SECONDS,
                                   reason="silenced from Slack", alert_id=alert_id)  # fmt: skip
            said = Reply(text=silence_line(silence))
        elif click.action_id == RESOLVE:
            desk.resolve(alert_id, click.user_id)
            said = None
        elif click.action_id == ROLLBACK:
            said = self._rollback(desk.find(alert_id), click)
        else:
            raise UsageError("That button is not one of the alert's.")
        self._audit(click, alert_id)
        return said

    def _rollback(self, alert: Alert, click: Click) -> Reply:
        desks = self._services.deploys
        if desks is None or alert.service is None or alert.env is None:
            raise NotAvailableYet("Rollback is not available for this alert.")
        desks.ask(Ask(DeployKind.ROLLBACK, alert.service, alert.env, None, click.user_id,
                      click.channel_id, click.response_url))  # fmt: skip
        return Reply(text=f":mag: Preparing the rollback of `{alert.service}` in `{alert.env}`…")

    def _audit(self, click: Click, alert_id: int) -> None:
        verb = {ACK: "alerts ack", SILENCE: "alerts silence", RESOLVE: "alerts resolve",
                ROLLBACK: "rollback"}[click.action_id]  # fmt: skip
        self._services.audit.append(
            AuditEntry(at=self._services.clock.now(), user_id=click.user_id,
                       channel_id=click.channel_id, verb=verb, arguments=f"#{alert_id}",
                       outcome="ok", detail="button")
        )  # fmt: skip


def _alert_id(text: str) -> int:
    value = text.strip().lstrip("#")
    if not value.isdecimal() or len(value) > 9:
        raise UsageError(f"`{text[:20]}` is not an alert number; `/alerts` lists them.")
    return int(value)


def _ended(silence: Silence, user: str) -> str:
    what = f"`{silence.service}`" if silence.service else f"alert #{silence.alert_id}"
    until = stamp(silence.until)
    return f":loud_sound: <@{user}> ended silence #{silence.id} of {what} (was until {until})."
