"""Deploy: approved deploys, environment locks, and rollback.

    /deploy web 1.2.0 to prod [--dry-run]    plan, ask for approval, roll out
    /deploy list [env]                       running and recent deploys
    /rollback web prod [1.1.0]               redeploy the previous (or given) version
    /lock prod [reason] [--for 2h]           /unlock prod    /lock list

Approvers approve with :white_check_mark: or :+1: (any skin tone) and reject with :x: on
the request message, or with its buttons; removing the reaction withdraws the vote.
"""

from __future__ import annotations

from functools import partial

from bot.core.blocks import escape
from bot.core.deploy.approvals import ActionId, Mark, event_time, mark_of_reaction
from bot.core.deploy.desk import Ask, DeployDesk
from bot.core.deploy.locks import stamp
from bot.core.deploy.model import DeployKind, DeployState
from bot.core.deploy.plans import deploy_version
from bot.core.deploy.views import deploys_listing, locks_listing
from bot.core.errors import NotAvailableYet, UsageError
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary
from bot.core.parsing import duration_seconds
from bot.core.replies import best_effort
from bot.core.values import Click, Invocation, Reaction, Reply
from bot.core.verbs import Arg, ArgKind, Option, Registry, Verb
from commands.dependencies import Services

STAGE = "Deploy"
LIST_LIMIT = 1000
"""Deploys a list reads back, newest first (the pages show them 40 at a time)."""

_SERVICE = Arg("service", ArgKind.SERVICE)
_ENV = Arg("env", ArgKind.ENVIRONMENT)


def register(registry: Registry, services: Services) -> None:
    """Declare /deploy, /rollback, /lock and /unlock, the approval reactions and buttons."""
    stage = _DeployStage(services)
    verbs = (
        Verb("deploy", "Deploy a version to an environment, with approval where it needs one.",
             STAGE, stage.deploy,
             args=(_SERVICE, Arg("version", ArgKind.VERSION),
                   Arg("env", ArgKind.ENVIRONMENT, after="to")),
             options=(Option("dry-run", help="show the plan and change nothing"),)),

        Verb("rollback", "Redeploy the previous (or the given) version.", STAGE, stage.rollback,
             args=(_SERVICE, _ENV, Arg("version", ArgKind.VERSION, optional=True))),
        Verb("lock", "Lock an environment so that only you can deploy to it.", STAGE,
             stage.lock, args=(_ENV, Arg("reason", optional=True, rest=True)),
             options=(Option("for", value="duration", kind=ArgKind.DURATION, help="e.g. 2h"),)),
        Verb("unlock", "Release your lock on an environment.", STAGE, stage.unlock,
             args=(_ENV,),
             options=(Option("force", help="an admin releases someone else's lock"),)),
    )  # fmt: skip
    for verb in verbs:
        registry.add(verb)
    deploys = ListVerb("deploy list", stage.deploy_vocabulary, stage.deploys_listing)
    registry.add_list(
        Verb(
            "deploy list",
            "Running and recent deploys, a page at a time.",
            STAGE,
            partial(_list, deploys),
            args=(
                Arg(
                    "filters",
                    optional=True,
                    rest=True,
                    help="an environment, a service or prefix*, a state, mine, page N",
                ),
            ),
        ),
        deploys,
    )
    locks = ListVerb("lock list", stage.lock_vocabulary, stage.locks_listing)
    registry.add_list(
        Verb(
            "lock list",
            "Every environment lock.",
            STAGE,
            partial(_list, locks),
            args=(Arg("filters", optional=True, rest=True, help="an environment, mine, page N"),),
        ),
        locks,
    )
    registry.on_reaction(stage.reaction)
    registry.on_click(ActionId.APPROVE.value, stage.click)
    registry.on_click(ActionId.REJECT.value, stage.click)


class _DeployStage:
    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def desk(self) -> DeployDesk:
        desk = self._services.deploys
        if desk is None:
            raise NotAvailableYet("Deploys are not wired in this bot.")
        return desk

    def deploy(self, invocation: Invocation) -> Reply:
        """Plan the deploy (on the deploy threads); the plan or the request follows."""
        return self._ask(invocation, DeployKind.DEPLOY, invocation.arg("version"))

    def rollback(self, invocation: Invocation) -> Reply:
        """Redeploy the previous or the given version, under the same approval rules."""
        return self._ask(invocation, DeployKind.ROLLBACK, invocation.opt("version"))

    def _ask(self, invocation: Invocation, kind: DeployKind, version: str | None) -> Reply:
        service, env = invocation.arg("service"), invocation.arg("env")
        self.desk.estate.target(service, env)
        if version is not None:
            version = deploy_version(version)
        dry_run = invocation.flag("dry-run")
        self.desk.ask(
            Ask(kind, service, env, version, invocation.user_id, invocation.channel_id,
                invocation.response_url, dry_run, invocation.settle)
        )  # fmt: skip
        shown = version or "the previous version"
        doing = "Planning" if dry_run else "Preparing"
        return Reply(
            text=f":mag: {doing} the {kind.value} of `{service}` {shown} to `{env}`…", follows=True
        )

    def deploy_vocabulary(self) -> Vocabulary:
        """/deploy list filters."""
        config = self._services.config
        return Vocabulary(
            envs=tuple(config.environments), services=tuple(config.services),
            states=tuple(state.value for state in DeployState), mine=True,
        )  # fmt: skip

    def deploys_listing(self, user: str, filters: Filters) -> Listing:
        """Recent deploys under the filters."""
        return deploys_listing(self.desk.store.recent(None, LIST_LIMIT), filters, user)

    def lock_vocabulary(self) -> Vocabulary:
        """/lock list filters."""
        return Vocabulary(envs=tuple(self._services.config.environments), mine=True)

    def locks_listing(self, user: str, filters: Filters) -> Listing:
        """The locks in force under the filters."""
        return locks_listing(self.desk.locks.in_force(), filters, user)

    def lock(self, invocation: Invocation) -> Reply:
        """Take (or renew) a lock on an environment."""
        env = invocation.arg("env")
        wanted = invocation.opt("for")
        seconds = duration_seconds(wanted) if wanted else None
        reason = " ".join(invocation.args.get("reason", "").split())[:300]
        held = self.desk.locks.lock(env, invocation.user_id, reason, seconds, invocation.channel_id)
        why = f" ({escape(held.reason)})" if held.reason else ""
        return Reply(
            text=f":lock: <@{held.holder}> locked `{env}`{why} until {stamp(held.expires_at)}.",
            public=True,
        )

    def unlock(self, invocation: Invocation) -> Reply:
        """Release the caller's lock, or with --force (admins only) anyone's, telling them."""
        env, user = invocation.arg("env"), invocation.user_id
        force = invocation.flag("force")
        admin = force and self._services.access.is_admin(user)
        released = self.desk.locks.unlock(env, user, force=force, admin=admin)
        if released.holder == user:
            return Reply(text=f":unlock: <@{user}> unlocked `{env}`.", public=True)
        told = Reply(
            text=f":unlock: <@{user}> (an admin) released your lock on `{env}`; others can "
            "deploy there now."
        )
        # A direct message (a post to the person's ID), which waits for them, where a
        # private note in the lock's channel shows only if they are looking at it then.
        best_effort(
            f"tell {released.holder} their lock on {env} was released",
            partial(self._services.notifier.post, released.holder, told),
        )
        return Reply(
            text=f":unlock: <@{user}> released <@{released.holder}>'s lock on `{env}`.",
            public=True,
        )

    def reaction(self, reaction: Reaction) -> None:
        """An approving or rejecting reaction on a request message counts as a vote."""
        mark = mark_of_reaction(reaction.base_name)
        desk = self._services.deploys
        if mark is None or desk is None:
            return
        request = desk.by_message(reaction.channel_id, reaction.message_ts)
        if request is None:
            return
        at = event_time(reaction.event_ts)
        refusal = desk.vote(request, reaction.user_id, mark, reaction.added, at)
        if refusal and reaction.added:
            self._services.notifier.ephemeral(
                reaction.channel_id, reaction.user_id, Reply(text=f":warning: {refusal}")
            )

    def click(self, click: Click) -> Reply | None:
        """The Approve and Reject buttons vote like the reactions."""
        try:
            request_id = int(click.value)
        except ValueError as error:
            raise UsageError("That button does not name a deploy.") from error
        request = self.desk.find(request_id)
        mark = Mark.BUTTON_APPROVE if click.action_id == ActionId.APPROVE else Mark.BUTTON_REJECT
        refusal = self.desk.vote(request, click.user_id, mark.value, True)
        return Reply(text=f":warning: {refusal}") if refusal else None


def _list(listing: ListVerb, invocation: Invocation) -> Reply:
    return listing.reply(invocation.user_id, invocation.words("filters"))
