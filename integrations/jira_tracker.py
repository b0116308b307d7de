"""Jira, through the `jira` package, for Jira Server / Data Center and Jira Cloud alike.

The client asks serverInfo once for the deployment type: on Cloud, search goes to the
enhanced JQL search (/search/jql, paged by nextPageToken; the classic /search answers 410
there), on Server / Data Center to the classic /search. The package's search_issues makes
that switch itself; the tests hold it to it against a Cloud fake and a Data Center emulator.

Every call has a connect and read timeout and no retries, so a slow or absent Jira turns
into a clear JiraUnavailable within seconds instead of a hung worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from jira import JIRA

from bot.config import JiraConfig
from bot.core.changes import IssueSummary
from bot.core.errors import NotFound, UsageError
from bot.core.plan.model import PlanIssue, SprintReport, Transition, jql_quote
from integrations import jira_search as js

T = TypeVar("T")
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
SPRINT_ITEMS_LIMIT = 500


class JiraTracker:
    """The Tracker and IssueLookup ports on one Jira site, board and project."""

    def __init__(
        self,
        config: JiraConfig,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._config = config
        self.site = config.url.rstrip("/")
        self._timeouts = (connect_timeout, read_timeout)
        self._lock = threading.Lock()
        self._client: JIRA | None = None
        self._fields: tuple[str | None, str | None] | None = None

    # -- the Tracker port ---------------------------------------------------------------
    @property
    def board_url(self) -> str:
        """The board in Jira's web UI."""
        board = self._config.board
        cloud = self._client is not None and self._client.deploymentType == "Cloud"
        if cloud:
            return f"{self.site}/jira/software/projects/{self._config.project}/boards/{board}"
        return f"{self.site}/secure/RapidBoard.jspa?rapidView={board}"

    def active_sprint(self) -> SprintReport | None:
        """The board's active sprint with its items."""
        return self._sprint_report("active")

    def next_sprint(self) -> SprintReport | None:
        """The board's next future sprint with its items."""
        return self._sprint_report("future")

    def backlog(self, limit: int) -> list[PlanIssue]:
        """The top `limit` items of the board's backlog, in rank order (agile API), read
        page by page: Jira answers at most its own page size (50 on Cloud) per request."""
        points, flag = self._field_ids()
        path = f"board/{self._config.board}/backlog"
        fields = ",".join(self._wanted(points, flag))
        found: list[dict[str, Any]] = []
        while len(found) < limit:
            params = {"startAt": len(found), "maxResults": limit - len(found), "fields": fields}
            answer = self._call(partial(_agile_get, path, params), missing=self._no_board())
            page = answer.get("issues") or []
            found += page
            total = answer.get("total")
            if not page or (isinstance(total, int) and len(found) >= total):
                break
        return [js.plan_issue(raw, self.site, points, flag) for raw in found[:limit]]

    def issue(self, key: str) -> PlanIssue:
        """One issue by key; NotFound when Jira has none by that key."""
        points, flag = self._field_ids()
        fields = ",".join(self._wanted(points, flag))
        found = self._call(
            lambda c: c.issue(key, fields=fields),
            missing=f"Jira has no issue {key} (or the bot may not see it).",
        )
        return js.plan_issue(found.raw, self.site, points, flag)

    def create(self, summary: str, issue_type: str, into_active_sprint: bool) -> PlanIssue:
        """Create the issue in the configured project; into the active sprint when asked."""
        sprint_id = None
        if into_active_sprint:
            sprint_id = self._sprint_id("active")
            if sprint_id is None:
                raise NotFound("There is no active sprint to add the issue to.")
        fields = {
            "project": {"key": self._config.project},
            "summary": summary,
            "issuetype": {"name": issue_type},
        }
        created = self._call(lambda c: c.create_issue(fields=fields, prefetch=False))
        key = str(created.key)
        if sprint_id is not None:
            self._call(lambda c: c.add_issues_to_sprint(sprint_id, [key]))
        return self.issue(key)

    def transitions(self, key: str) -> list[Transition]:
        """The moves the issue can make now."""
        raw = self._call(
            lambda c: c.transitions(key),
            missing=f"Jira has no issue {key} (or the bot may not see it).",
        )
        return [
            Transition(
                str(t["id"]),
                str(t.get("name") or ""),
                str((t.get("to") or {}).get("name") or t.get("name")),
            )
            for t in raw
        ]

    def transition(self, key: str, transition: Transition) -> PlanIssue:
        """Make the move; the issue as it is afterwards."""
        self._call(lambda c: c.transition_issue(key, transition.id))
        return self.issue(key)

    def user_ids(self, email: str) -> frozenset[str]:
        """Account ids (Cloud) or user names (Server) whose e-mail is `email`."""
        users = self._call(
            lambda c: (
                c.search_users(query=email)
                if c.deploymentType == "Cloud"
                else c.search_users(user=email)
            )
        )
        wanted = email.strip().lower()
        found = set()
        for user in users:
            raw = user.raw or {}
            shown = str(raw.get("emailAddress") or "").lower()
            if shown in ("", wanted):
                ident = raw.get("accountId") or raw.get("name")
                if ident and (shown == wanted or len(users) == 1):
                    found.add(str(ident))
        return frozenset(found)

    # -- the IssueLookup port -------------------------------------------------------------
    def summaries(self, keys: Sequence[str]) -> dict[str, IssueSummary]:
        """Summary and status of the issues that exist among `keys` (others left out)."""
        if not keys:
            return {}
        jql = f"key in ({', '.join(jql_quote(k) for k in keys)})"
        try:
            raws = self._search(jql, ["summary", "status"], len(keys))
        except UsageError:
            # Jira refuses the whole query when one of the keys does not exist: ask one by one.
            found = []
            for key in keys:
                try:
                    found.append(self.issue(key))
                except NotFound:
                    continue
        else:
            found = [js.plan_issue(raw, self.site, None, None) for raw in raws]
        return {
            i.key: IssueSummary(i.key, i.summary, i.status, i.url) for i in found if i.key in keys
        }

    # -- inside -------------------------------------------------------------------------
    def _sprint_report(self, state: str) -> SprintReport | None:
        raw = self._first_sprint(state)
        if raw is None:
            return None
        sprint = js.sprint(raw)
        points, flag = self._field_ids()
        raws = self._search(f"sprint = {sprint.id}", self._wanted(points, flag), SPRINT_ITEMS_LIMIT)
        issues = tuple(js.plan_issue(r, self.site, points, flag) for r in raws)
        return SprintReport(sprint=sprint, issues=issues, board_url=self.board_url)

    def _sprint_id(self, state: str) -> int | None:
        raw = self._first_sprint(state)
        return int(raw["id"]) if raw else None

    def _first_sprint(self, state: str) -> dict[str, Any] | None:
        # The board's configuration first: it answers 404 for a missing board everywhere,
        # where some servers list no sprints instead.
        self._field_ids()
        board = self._config.board
        sprints = self._call(lambda c: c.sprints(board, state=state), missing=self._no_board())
        raws: list[dict[str, Any]] = [s.raw for s in sprints if s.raw]
        if not raws:
            return None
        raws.sort(key=lambda r: (str(r.get("startDate") or "9999"), int(r["id"])))
        return raws[0]

    def _search(self, jql: str, fields: list[str], limit: int) -> list[dict[str, Any]]:
        # maxResults False: every page (classic startAt paging on Server, nextPageToken on Cloud)
        # One comma-separated value: Jira takes that everywhere, repeated parameters not always.
        wanted = [",".join(fields)]
        found = self._call(lambda c: c.search_issues(jql, maxResults=False, fields=wanted))
        return [issue.raw for issue in list(found)[:limit]]

    def _field_ids(self) -> tuple[str | None, str | None]:
        if self._fields is not None:
            return self._fields
        board = self._config.board
        config = self._call(
            lambda c: c._get_json(f"board/{board}/configuration", base=c.AGILE_BASE_URL),
            missing=self._no_board(),
        )
        estimation = (config.get("estimation") or {}).get("field") or {}
        fields = self._call(lambda c: c.fields())
        points = estimation.get("fieldId") or next(
            (f["id"] for f in fields if f.get("name") in js.POINT_FIELD_NAMES), None
        )
        flag = next((f["id"] for f in fields if f.get("name") == js.FLAG_FIELD_NAME), None)
        self._fields = (points, flag)
        return self._fields

    @staticmethod
    def _wanted(points: str | None, flag: str | None) -> list[str]:
        base = ["summary", "status", "assignee", "issuetype"]
        return base + [f for f in (points, flag) if f]

    def _no_board(self) -> str:
        return f"Jira has no board {self._config.board} (jira.board in opsloop.yml)."

    def _call(self, work: Callable[[JIRA], T], missing: str | None = None) -> T:
        client = js.guarded(self.site, self._timeouts[1], self._connect)
        return js.guarded(self.site, self._timeouts[1], lambda: work(client), missing)

    def _connect(self) -> JIRA:
        with self._lock:
            if self._client is None:
                token = self._config.token.get_secret_value() if self._config.token else None
                basic = (self._config.user, token) if self._config.user and token else None
                self._client = JIRA(
                    server=self.site,
                    basic_auth=basic,
                    token_auth=token if token and basic is None else None,
                    timeout=self._timeouts,
                    max_retries=0,
                    options={"check_update": False},
                )
            return self._client


def _agile_get(path: str, params: dict[str, Any], client: JIRA) -> Any:
    return client._get_json(path, params=params, base=client.AGILE_BASE_URL)
