"""The Jira adapter against a Jira Cloud fake over HTTP: the enhanced JQL search, 401, a
hung Jira; and the fake's answers checked against Atlassian's published schemas."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from bot.config import JiraConfig
from bot.core.errors import JiraUnavailable
from integrations.jira_tracker import JiraTracker
from tests.specs import specs_dir
from tests.support.jira_cloud import (
    TOKEN,
    USER,
    CloudIssue,
    CloudState,
    JiraCloud,
    running_jira_cloud,
)


def cloud_state() -> CloudState:
    state = CloudState(
        users={
            "acc-1": ("Alice Adams", "alice@corp.example"),
            "acc-2": ("Bob", "bob@corp.example"),
        },
        page_cap=2,
    )
    state.sprints = [
        {
            "id": 5,
            "self": "http://jira.invalid/rest/agile/1.0/sprint/5",
            "state": "active",
            "name": "Cloud Sprint 5",
            "startDate": "2026-01-01T09:00:00.000Z",
            "endDate": "2026-01-15T09:00:00.000Z",
            "originBoardId": 7,
            "goal": "Move to Cloud",
        }
    ]
    for n in range(1, 6):
        status = "Done" if n % 2 == 0 else "In Progress"
        owner = "acc-1" if n < 3 else "acc-2"
        state.issues[f"OPS-{n}"] = CloudIssue(f"OPS-{n}", f"Item {n}", status, owner, n, n == 3, 5)
    state.issues["OPS-9"] = CloudIssue("OPS-9", "Backlog item")
    return state


@pytest.fixture
def cloud() -> Iterator[JiraCloud]:
    with running_jira_cloud(cloud_state()) as running:
        yield running


def tracker(cloud: JiraCloud, token: str = TOKEN, read_timeout: float = 3.0) -> JiraTracker:
    config = JiraConfig(url=cloud.url, user=USER, token=token, board=7, project="OPS")
    return JiraTracker(config, read_timeout=read_timeout)


def test_sprint_items_come_through_the_enhanced_search_across_pages(cloud: JiraCloud) -> None:
    report = tracker(cloud).active_sprint()
    assert report is not None and report.sprint.name == "Cloud Sprint 5"
    # The fake answers 410 on the classic search and pages /search/jql two at a time: all
    # five items arriving means the adapter used the enhanced search and followed the tokens.
    assert [i.key for i in report.issues] == [f"OPS-{n}" for n in range(1, 6)]
    flagged = next(i for i in report.issues if i.key == "OPS-3")
    assert flagged.blocked and flagged.points == 3
    assert "/jira/software/projects/OPS/boards/7" in report.board_url


def test_users_by_email_summaries_and_backlog(cloud: JiraCloud) -> None:
    jira = tracker(cloud)
    assert jira.user_ids("alice@corp.example") == frozenset({"acc-1"})
    assert list(jira.summaries(["OPS-1", "OPS-77"])) == ["OPS-1"]
    assert [i.key for i in jira.backlog(5)] == ["OPS-9"]


def test_a_long_backlog_is_read_page_by_page(cloud: JiraCloud) -> None:
    for n in range(100, 220):
        cloud.state.issues[f"OPS-{n}"] = CloudIssue(f"OPS-{n}", f"Backlog item {n}")
    cloud.state.page_cap = 50
    jira = tracker(cloud)
    keys = [i.key for i in jira.backlog(500)]
    assert len(keys) == 121 and keys[0] == "OPS-9" and keys[-1] == "OPS-219"
    assert [i.key for i in jira.backlog(60)][-1] == "OPS-158"
    pages = [p for p in cloud.state.paths if p.endswith("/backlog")]
    assert len(pages) == 3 + 2  # 50 + 50 + 21 items, then 50 + 10


def test_refused_credentials_are_named_without_the_token(cloud: JiraCloud) -> None:
    with pytest.raises(JiraUnavailable) as refused:
        tracker(cloud, token="wrong-token").active_sprint()
    assert "refused the bot's credentials (HTTP 401)" in refused.value.message
    assert "wrong-token" not in refused.value.message


def test_a_hung_jira_fails_within_the_read_timeout(cloud: JiraCloud) -> None:
    cloud.state.hanging = True
    failed = threading.Event()

    def ask() -> None:
        with pytest.raises(JiraUnavailable, match="did not answer"):
            tracker(cloud, read_timeout=0.5).active_sprint()
        failed.set()

    worker = threading.Thread(target=ask)
    worker.start()
    worker.join(timeout=20)
    assert failed.is_set()


# -- the fake holds to the published API ---------------------------------------------------


def _spec(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((specs_dir() / "jira" / name).read_text())
    return data


def _check(spec: dict[str, Any], schema: dict[str, Any], instance: object) -> None:
    wrapped = {**schema, "components": spec["components"]}
    jsonschema.Draft7Validator(wrapped).validate(instance)


def _schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    schema: dict[str, Any] = content["schema"]
    return schema


def _get(cloud: JiraCloud, path: str, **params: object) -> Any:
    answer = httpx.get(cloud.url + path, params=params, auth=(USER, TOKEN), timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_fakes_answers_validate_against_the_jira_cloud_specs(cloud: JiraCloud) -> None:
    platform, software = _spec("platform.openapi3.json"), _spec("software.openapi3.json")
    _check(
        platform, _schema(platform, "/rest/api/3/serverInfo"), _get(cloud, "/rest/api/3/serverInfo")
    )
    _check(platform, _schema(platform, "/rest/api/3/field"), _get(cloud, "/rest/api/3/field"))
    users = _get(cloud, "/rest/api/3/user/search", query="alice@corp.example")
    _check(platform, _schema(platform, "/rest/api/3/user/search"), users)
    issue = _get(cloud, "/rest/api/3/issue/OPS-1")
    _check(platform, _schema(platform, "/rest/api/3/issue/{issueIdOrKey}"), issue)
    page = _get(cloud, "/rest/api/3/search/jql", jql="sprint = 5", maxResults=2)
    # /search/jql postdates the snapshot: its issues keep the IssueBean shape (specs/README).
    assert set(page) <= {"issues", "nextPageToken", "isLast"} and page["nextPageToken"]
    bean = {"$ref": "#/components/schemas/IssueBean"}
    for item in page["issues"]:
        _check(platform, bean, item)
    board = "/rest/agile/1.0/board/{boardId}"
    _check(
        software,
        _schema(software, board + "/configuration"),
        _get(cloud, "/rest/agile/1.0/board/7/configuration"),
    )
    _check(
        software,
        _schema(software, board + "/backlog"),
        _get(cloud, "/rest/agile/1.0/board/7/backlog"),
    )
    sprints = _get(cloud, "/rest/agile/1.0/board/7/sprint", state="active")
    example = json.loads(
        software["paths"][board + "/sprint"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["example"]
    )
    assert set(sprints) <= set(example) and set(sprints["values"][0]) <= set(example["values"][0])
    gone = httpx.get(
        cloud.url + "/rest/api/2/search", params={"jql": "sprint = 5"}, auth=(USER, TOKEN)
    )
    assert gone.status_code == 410
