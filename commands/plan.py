"""Plan: the active sprint from Jira, the backlog, and issues created from Slack.

Every Jira call runs on the Background threads, so a slow or absent Jira never holds the
router's workers: the answer comes within the quick wait, or follows through the
response_url, or, past DEADLINE seconds, says plainly that Jira did not answer. For the
verbs that change Jira (add, move) a late answer says the change is still on its way, so
nobody sends it twice, and the result follows when Jira answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from functools import partial

from bot.core.background import Patience, answer_slowly
from bot.core.blocks import escape
from bot.core.errors import NotAvailableYet, OpsloopError, UsageError
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary
from bot.core.plan import views
from bot.core.plan.model import DigestMemory, Tracker, mine, pick_transition, progress
from bot.core.values import Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Option, Registry, Verb
from commands.dependencies import Services

STAGE = "Plan"
DEADLINE = 4.5
BACKLOG_READ = 200
"""Backlog items a list reads from Jira (four of Cloud's pages); the pages show 40 at a time."""
SUMMARY_LIMIT = 255
DIGEST_JOB = "plan.digest"

log = logging.getLogger(__name__)


def register(registry: Registry, services: Services) -> None:
    """Declare the /plan verbs."""
    stage = _Plan(services)
    issue = Arg("issue", ArgKind.ISSUE_KEY, optional=True, help="a key such as OPS-42")
    options = (Option("type", value="type", help="issue type, e.g. Bug"), Option("sprint"))
    for verb in (
        _verb("plan", "The active sprint, or one issue by key.", stage.show, args=(issue,)),
        _verb("plan next", "The next sprint.", stage.show_next),
        _verb("plan mine", "Your own items in the active sprint.", stage.show_mine),
        _verb(
            "plan add",
            "Create an issue in the project (in the active sprint with --sprint).",
            stage.add,
            args=(Arg("summary", rest=True),),
            options=options,
        ),
        _verb(
            "plan move",
            "Move an issue to another status.",
            stage.move,
            args=(Arg("issue", ArgKind.ISSUE_KEY), Arg("status", rest=True)),
        ),
    ):
        registry.add(verb)
    backlog = ListVerb("plan backlog", stage.backlog_vocabulary, stage.backlog_listing)
    registry.add_list(
        _verb("plan backlog", "The backlog in rank order, a page at a time.",
              partial(stage.show_backlog, backlog),
              args=(Arg("filters", optional=True, rest=True,
                        help="todo, in-progress, blocked, unassigned, mine, page N"),)),
        backlog,
    )  # fmt: skip


def _verb(
    name: str,
    summary: str,
    handler: Callable[[Invocation], Reply],
    args: tuple[Arg, ...] = (),
    options: tuple[Option, ...] = (),
) -> Verb:
    return Verb(name, summary, STAGE, handler, args=args, options=options)


class _Plan:
    """The /plan handlers; each hands its Jira work to the Background threads."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def show(self, invocation: Invocation) -> Reply:
        """`/plan [KEY]`: the active sprint, or one issue."""
        key = invocation.opt("issue")
        if key is not None:
            return self._ask(invocation, key, lambda t: views.issue_view(t.issue(key), t.board_url))
        return self._ask(invocation, "the active sprint", self._active)

    def show_next(self, invocation: Invocation) -> Reply:
        """`/plan next`."""

        def work(tracker: Tracker) -> Reply:
            report = tracker.next_sprint()
            if report is None:
                return _no_sprint(tracker, "has no future sprint planned", "`/plan backlog`")
            return views.sprint_view(report, self._today(), "Next sprint")

        return self._ask(invocation, "the next sprint", work)

    def show_backlog(self, backlog: ListVerb, invocation: Invocation) -> Reply:
        """`/plan backlog [filters]`."""
        asked = backlog.parse(invocation.words("filters"))  # a bad filter is answered at once
        return self._ask(
            invocation, "the backlog", lambda _t: backlog.page(invocation.user_id, asked)[0]
        )

    def backlog_vocabulary(self) -> Vocabulary:
        """/plan backlog filters."""
        return Vocabulary(states=views.BACKLOG_STATES, mine=True)

    def backlog_listing(self, user: str, filters: Filters) -> Listing:
        """The backlog (its first BACKLOG_READ items) under the filters."""
        tracker = self._services.tracker
        if tracker is None:
            raise NotAvailableYet("Jira is not configured.")
        issues = tracker.backlog(BACKLOG_READ)
        own: frozenset[str] = frozenset()
        if filters.mine:
            email = self._services.directory.email(user)
            if not email:
                raise UsageError(
                    "Your Slack profile shows no e-mail address, so I cannot find you in Jira."
                )
            own = frozenset(i.key for i in mine(issues, email, tracker.user_ids(email)))
        return views.backlog_listing(issues, filters, own, tracker.board_url)

    def show_mine(self, invocation: Invocation) -> Reply:
        """`/plan mine`: found by the caller's Slack e-mail address."""

        def work(tracker: Tracker) -> Reply:
            email = self._services.directory.email(invocation.user_id)
            if not email:
                raise UsageError(
                    "Your Slack profile shows no e-mail address, so I cannot find you in Jira."
                )
            report = tracker.active_sprint()
            if report is None:
                return _no_sprint(tracker, "has no active sprint", "`/plan backlog`")
            own = mine(report.issues, email, tracker.user_ids(email))
            return views.mine_view(report, own, self._today())

        return self._ask(invocation, "your items", work)

    def add(self, invocation: Invocation) -> Reply:
        """`/plan add <summary> [--type T] [--sprint]`."""
        summary = " ".join(invocation.arg("summary").split())
        if len(summary) > SUMMARY_LIMIT:
            raise UsageError(
                f"A summary has at most {SUMMARY_LIMIT} characters; that one has {len(summary)}."
            )
        issue_type = invocation.opt("type") or "Task"
        into_sprint = invocation.flag("sprint")

        def work(tracker: Tracker) -> Reply:
            issue = tracker.create(summary, issue_type, into_sprint)
            where = " in the active sprint" if into_sprint else ""
            lead = f":white_check_mark: Created{where}: "
            return views.issue_view(issue, tracker.board_url, lead)

        return self._ask(invocation, "a new issue", work, writes=True)

    def move(self, invocation: Invocation) -> Reply:
        """`/plan move <KEY> <status>`."""
        key, wanted = invocation.arg("issue"), invocation.arg("status")

        def work(tracker: Tracker) -> Reply:
            before = tracker.issue(key)
            chosen = pick_transition(key, tracker.transitions(key), wanted)
            after = tracker.transition(key, chosen)
            lead = f":white_check_mark: Moved from *{escape(before.status)}*: "
            return views.issue_view(after, tracker.board_url, lead)

        return self._ask(invocation, f"the moves of {key}", work, writes=True)

    def _active(self, tracker: Tracker) -> Reply:
        report = tracker.active_sprint()
        if report is None:
            return _no_sprint(tracker, "has no active sprint", "`/plan next`")
        return views.sprint_view(report, self._today(), "Active sprint")

    def _ask(
        self,
        invocation: Invocation,
        what: str,
        work: Callable[[Tracker], Reply],
        *,
        writes: bool = False,
    ) -> Reply:
        tracker = self._services.tracker
        unwired = (
            "Jira is not configured: add a `jira:` section (url, board, project) to opsloop.yml."
        )
        if tracker is None:
            raise NotAvailableYet(unwired)
        jira = self._services.config.jira
        site = jira.url if jira else "Jira"
        late = (
            f"Jira at {site} has not answered within {DEADLINE:g} seconds, and the change "
            "may still go through: do not send it again. Its result follows here."
            if writes
            else f"Jira at {site} did not answer within {DEADLINE:g} seconds: it may be down "
            "or overloaded. Try again later; everything else keeps working."
        )
        patience = Patience(DEADLINE, f"Asking Jira for {what}…", late, writes=writes)
        return answer_slowly(
            self._services.background, invocation, lambda: work(tracker), patience,
            unwired=unwired,
        )  # fmt: skip

    def _today(self) -> date:
        return self._services.clock.now().date()


def digest_channel(services: Services) -> str:
    """Where the digest goes: jira.digest.channel, else slack.team_channel, else ops_channel."""
    config = services.config
    digest = config.jira.digest if config.jira else None
    return (
        (digest.channel if digest else None)
        or config.slack.team_channel
        or (config.slack.ops_channel)
    )


def post_digest(services: Services, fire_time: datetime) -> None:
    """The scheduled sprint digest for the team's channel (one fire time, one post), through
    the outbox: it lands once, when Slack takes it."""
    if services.tracker is None or services.outbox is None:
        return
    channel = digest_channel(services)
    key = f"{DIGEST_JOB}-{fire_time.isoformat()}"
    try:
        report = services.tracker.active_sprint()
    except OpsloopError as error:
        said = Reply(text=f":warning: Sprint digest: {error.message}")
        services.outbox.post(channel, said, key=key)
        return
    if report is None:
        text = "Sprint digest: the board has no active sprint."
        services.outbox.post(channel, Reply(text=text), key=key)
        return
    memory = services.digests.load(DIGEST_JOB) if services.digests else None
    services.outbox.post(channel, views.digest_view(report, memory, fire_time.date()), key=key)
    if services.digests is not None:
        done = frozenset(i.key for i in report.issues if i.category.name == "DONE")
        services.digests.save(
            DIGEST_JOB, DigestMemory(done, progress(report.issues).done_points, fire_time)
        )


def _no_sprint(tracker: Tracker, problem: str, next_step: str) -> Reply:
    text = f"The board {problem}. Try {next_step}."
    return views.fit(text, [text], tracker.board_url)
