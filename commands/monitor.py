"""Monitor: scheduled checks and the alerts they raise.

    /monitor [filters]                 every check; naming a service shows its last results
    /alerts [filters]                  open alerts and silences (firing, acknowledged, ...)
    /alerts ack <id>      /alerts resolve <id>
    /alerts silence <service> [env] <duration> [reason]     at most 30 days
    /alerts unsilence <silence id | service [env]>

The alert's message and its thread show every change to everyone; the commands answer the
person who typed them. Each alert message has Acknowledge, Silence 1h and Resolve buttons;
its reply in a deploy's thread adds Rollback, which asks for /rollback under the deploy
rules. Commands are audited by the router; the buttons are audited here.
"""

from __future__ import annotations

from functools import partial

from bot.core.deploy.desk import Ask
from bot.core.deploy.model import DeployKind
from bot.core.errors import NotAvailableYet, NotFound, UsageError
from bot.core.listing import (
    Filters,
    Listing,
    ListVerb,
    Vocabulary,
)
from bot.core.monitor.listings import ALERT_STATES, CHECK_STATES, alerts_listing, checks_listing
from bot.core.monitor.model import Alert, Silence
from bot.core.monitor.stage import Monitoring
from bot.core.monitor.views import (
    ACK,
    ACTION_PREFIX,
    RESOLVE,
    ROLLBACK,
    SILENCE,
    silence_line,
    stamp,
    summary,
)
from bot.core.parsing import duration_seconds
from bot.core.values import AuditEntry, Click, Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.dependencies import Services
from commands.lists import show_list

STAGE = "Monitor"
SILENCE_BUTTON_SECONDS = 3600
ALERTS_READ = 1000
"""Open alerts /alerts reads back, newest first."""
MONITOR_FILTERS = "an environment, a service or prefix*, a state (firing, failing, ok), page N"
ALERTS_FILTERS = (
    "an environment, a service or prefix*, a state (firing, acknowledged, silenced, "
    "silences), mine, page N"
)

_ID = Arg("id", help="the alert's number, as in `/alerts`")


def register(registry: Registry, services: Services) -> None:
    """Declare /monitor and /alerts, and the alert buttons."""
    stage = _MonitorStage(services)
    verbs = (
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
    checks = ListVerb("monitor", stage.checks_vocabulary, stage.checks_listing,
                      service_first=True)  # fmt: skip
    registry.add_list(
        Verb("monitor", "Every check and its state, a page at a time; naming a service shows "
             "its checks' last results and latency.", STAGE, partial(stage.monitor, checks),
             args=(Arg("filters", optional=True, rest=True, help=MONITOR_FILTERS),)),
        checks,
    )  # fmt: skip
    alerts = ListVerb("alerts", stage.alerts_vocabulary, stage.alerts_listing)
    registry.add_list(
        Verb("alerts", "Open alerts, newest first, and the silences in force, a page at a "
             "time.", STAGE, partial(stage.alerts, alerts),
             args=(Arg("filters", optional=True, rest=True, help=ALERTS_FILTERS),)),
        alerts,
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

    def monitor(self, listing: ListVerb, invocation: Invocation) -> Reply:
        """`/monitor [filters]`: every check under the filters."""
        return self._page(listing, invocation, invocation.words("filters"))

    def alerts(self, listing: ListVerb, invocation: Invocation) -> Reply:
        """`/alerts [filters]`: open alerts and the silences in force."""
        return self._page(listing, invocation, invocation.words("filters"))

    def _page(self, listing: ListVerb, invocation: Invocation, words: list[str]) -> Reply:
        if self._services.monitor is None:
            raise NotAvailableYet("Monitoring is not wired in this bot.")
        asked = listing.parse(words)  # a bad word is answered before the slow read
        return show_list(self._services, invocation, listing, asked)

    def checks_vocabulary(self) -> Vocabulary:
        """/monitor filters on environments, services, prefixes and check states."""
        config = self._services.config
        return Vocabulary(envs=tuple(config.environments), services=tuple(config.services),
                          states=CHECK_STATES)  # fmt: skip

    def checks_listing(self, user: str, filters: Filters) -> Listing:
        """Every check under the filters."""
        del user  # /monitor has no `mine`
        return checks_listing(self.monitoring.checks(), filters)

    def alerts_vocabulary(self) -> Vocabulary:
        """/alerts filters on environments, services, prefixes, alert states and `mine`."""
        config = self._services.config
        return Vocabulary(envs=tuple(config.environments), services=tuple(config.services),
                          states=ALERT_STATES, mine=True)  # fmt: skip

    def alerts_listing(self, user: str, filters: Filters) -> Listing:
        """Open alerts and silences under the filters."""
        monitoring = self.monitoring
        return alerts_listing(monitoring.open_alerts(ALERTS_READ), monitoring.silences(),
                              filters, user)  # fmt: skip

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
