"""Reading Jira's JSON into plan values, and turning Jira's failures into errors written for
the Slack user. Shared by the Jira adapter; knows nothing of HTTP sessions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import requests
from jira.exceptions import JIRAError

from bot.core.errors import JiraUnavailable, NotFound, UsageError
from bot.core.plan.model import Category, PlanIssue, Sprint

T = TypeVar("T")

# What Jira calls the story-point and flag fields, when the board does not say.
POINT_FIELD_NAMES = ("Story Points", "Story point estimate")
FLAG_FIELD_NAME = "Flagged"


def plan_issue(
    raw: Mapping[str, Any], site: str, points_field: str | None, flag_field: str | None
) -> PlanIssue:
    """One issue from Jira's JSON (REST v2, Cloud or Server alike)."""
    fields: Mapping[str, Any] = raw.get("fields") or {}
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key", "new")
    assignee = fields.get("assignee") or None
    points = fields.get(points_field) if points_field else None
    return PlanIssue(
        key=str(raw["key"]),
        summary=str(fields.get("summary") or ""),
        status=str(status.get("name") or "Unknown"),
        category=Category.from_jira(str(category)),
        url=f"{site}/browse/{raw['key']}",
        issue_type=str((fields.get("issuetype") or {}).get("name") or "Task"),
        assignee=str(assignee.get("displayName") or assignee.get("name")) if assignee else None,
        assignee_id=_user_id(assignee) if assignee else None,
        assignee_email=assignee.get("emailAddress") if assignee else None,
        points=float(points) if isinstance(points, int | float) else None,
        flagged=bool(fields.get(flag_field)) if flag_field else False,
    )


def sprint(raw: Mapping[str, Any]) -> Sprint:
    """One sprint from the agile API's JSON."""
    return Sprint(
        id=int(raw["id"]),
        name=str(raw.get("name") or f"Sprint {raw['id']}"),
        state=str(raw.get("state") or "").lower(),
        goal=str(raw.get("goal") or ""),
        start=parse_time(raw.get("startDate")),
        end=parse_time(raw.get("endDate")),
    )


def parse_time(value: object) -> datetime | None:
    """Jira's timestamps: `2026-01-05T09:00:00.000+0000` (Server) or `...Z` (Cloud)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _user_id(user: Mapping[str, Any]) -> str | None:
    found = user.get("accountId") or user.get("name") or user.get("key")
    return str(found) if found else None


def guarded(site: str, timeout: float, call: Callable[[], T], missing: str | None = None) -> T:
    """Run one Jira call; its failures become JiraUnavailable (down, slow, refused) or
    NotFound (`missing` says what was not there), with nothing secret in the message."""
    try:
        return call()
    except JIRAError as error:
        # JIRAError renders the request headers, Authorization included: keep it out of
        # every traceback by dropping the cause.
        raise translate(site, error, missing) from None
    except requests.Timeout as error:
        raise JiraUnavailable(
            f"Jira at {site} did not answer within {timeout:g} seconds. Try again later."
        ) from error
    except requests.RequestException as error:
        raise JiraUnavailable(f"Jira at {site} cannot be reached ({type(error).__name__}).") from (
            error
        )


def translate(site: str, error: JIRAError, missing: str | None) -> Exception:
    """A JIRAError as an error the router can show."""
    status = error.status_code
    if status in (401, 403):
        return JiraUnavailable(
            f"Jira at {site} refused the bot's credentials (HTTP {status}): check jira.user "
            "and the token."
        )
    if status == 404 and missing:
        return NotFound(missing)
    if status is not None and status >= 500:
        return JiraUnavailable(f"Jira at {site} failed (HTTP {status}). Try again later.")
    text = str(error.text or "").strip()[:300] or f"HTTP {status}"
    if status == 400:
        return UsageError(f"Jira refused that: {text}")
    return JiraUnavailable(f"Jira at {site} refused the request: {text}")
