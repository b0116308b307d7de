"""A small Jira Cloud over real HTTP (stdlib http.server on an ephemeral port).

What Cloud does differently and opsloop must cope with: serverInfo says deploymentType
Cloud, the classic GET /rest/api/{2,3}/search answers 410 Gone, and search goes through
/search/jql, paged by nextPageToken (no total). Also served: issues, fields, user search,
and the agile board endpoints /plan reads. Basic auth is required (401 otherwise), and
`hanging` makes every request wait, as a Jira that stopped answering would.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

USER = "bot@example.com"
TOKEN = "cloud-api-token-123"
POINTS = "customfield_10016"
FLAGGED = "customfield_10021"
CATEGORIES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
_STATUS_IDS = {"To Do": "10000", "In Progress": "3", "Done": "10001"}


@dataclass
class CloudIssue:
    """An issue in the fake."""

    key: str
    summary: str
    status: str = "To Do"
    assignee: str | None = None
    points: float | None = None
    flagged: bool = False
    sprint: int | None = None


@dataclass
class CloudState:
    """Everything the fake knows; tests change it directly."""

    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    """accountId -> (display name, e-mail)."""
    sprints: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[str, CloudIssue] = field(default_factory=dict)
    board: int = 7
    page_cap: int = 50
    hanging: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    paths: list[str] = field(default_factory=list)


class JiraCloud:
    """The running fake: its URL and its state."""

    def __init__(self, server: ThreadingHTTPServer, state: CloudState) -> None:
        self.server = server
        self.state = state
        self.url = f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def running_jira_cloud(state: CloudState | None = None) -> Iterator[JiraCloud]:
    """Serve the fake in a thread until the block ends."""
    state = state or CloudState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield JiraCloud(server, state)
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def _handler(state: CloudState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            del format, args

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            state.paths.append(f"{method} {url.path}")
            if state.hanging:
                state.release.wait(30)
            if self.headers.get("Authorization") != _basic():
                self._send(401, {"errorMessages": ["You are not authenticated."], "errors": {}})
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                query.update(json.loads(self.rfile.read(length) or b"{}"))
            base = f"http://{self.headers.get('Host')}"
            status, body = route(state, method, url.path, query, base)
            self._send(status, body)

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the hung-Jira tests)

    return Handler


def _basic() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()


_NO_ISSUE = "Issue does not exist or you do not have permission to see it."
_NO_BOARD = "The requested board cannot be viewed because it either does not exist or you do not have permission to view it."  # noqa: E501


def route(
    state: CloudState, method: str, path: str, query: dict[str, Any], base: str
) -> tuple[int, object]:
    """The answer to one request: (HTTP status, JSON body)."""
    path = re.sub(r"^/rest/api/[23]/", "/api/", path)
    if path.startswith("/rest/agile/1.0/board/"):
        return agile(state, path, query, base)
    if path == "/api/serverInfo":
        return 200, server_info(base)
    if path == "/api/search":
        return 410, {"errorMessages": ["The requested API has been removed. Use /search/jql."]}
    if path == "/api/search/jql":
        return search(state, query, base)
    if path == "/api/field":
        return 200, fields()
    if path == "/api/user/search":
        wanted = str(query.get("query") or "").lower()
        found = [u for u, (_n, mail) in state.users.items() if wanted and wanted == mail.lower()]
        return 200, [user_json(state, account, base) for account in found]
    if match := re.fullmatch(r"/api/issue/([A-Z]+-\d+)", path):
        issue = state.issues.get(match.group(1))
        if issue is None:
            return 404, {"errorMessages": [_NO_ISSUE], "errors": {}}
        return 200, issue_json(state, issue, base)
    return 404, {"errorMessages": [f"No route for {method} {path}"], "errors": {}}


def agile(state: CloudState, path: str, query: dict[str, Any], base: str) -> tuple[int, object]:
    """The agile endpoints of the one board."""
    board = f"/rest/agile/1.0/board/{state.board}"
    if path == f"{board}/configuration":
        return 200, board_configuration(state, base)
    if path == f"{board}/sprint":
        states = set(str(query.get("state") or "active,future,closed").split(","))
        values = [s for s in state.sprints if s["state"] in states]
        return 200, {"maxResults": 50, "startAt": 0, "isLast": True, "values": values}
    if path == f"{board}/backlog":
        keys = [k for k, i in state.issues.items() if i.sprint is None and i.status != "Done"]
        # Cloud answers at most its page size, whatever maxResults asks for.
        start = int(query.get("startAt") or 0)
        limit = min(int(query.get("maxResults") or 50), state.page_cap)
        page = keys[start : start + limit]
        issues = [issue_json(state, state.issues[k], base) for k in page]
        return 200, {"startAt": start, "maxResults": limit, "total": len(keys), "issues": issues}
    return 404, {"errorMessages": [_NO_BOARD], "errors": {}}


def server_info(base: str) -> dict[str, Any]:
    """GET serverInfo, as Cloud answers it."""
    return {
        "baseUrl": base,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100245,
        "buildDate": "2026-01-02T08:00:00.000+0000",
        "serverTime": "2026-01-07T09:00:00.000+0000",
        "scmInfo": "9a1b2c3d4e5f",
        "serverTitle": "Jira",
    }


def search(state: CloudState, query: dict[str, Any], base: str) -> tuple[int, object]:
    """The enhanced JQL search: `sprint = N` and `key in (...)` are understood."""
    jql = str(query.get("jql") or "")
    if match := re.fullmatch(r"sprint = (\d+)", jql):
        keys = [k for k, i in state.issues.items() if i.sprint == int(match.group(1))]
    elif match := re.fullmatch(r"key in \((.*)\)", jql):
        keys = [k for k in re.findall(r'"([A-Z]+-\d+)"', match.group(1)) if k in state.issues]
    else:
        return 400, {"errorMessages": [f"Error in the JQL Query: {jql[:80]}"], "errors": {}}
    start = int(query.get("nextPageToken") or 0)
    size = min(int(query.get("maxResults") or 50), state.page_cap)
    page = keys[start : start + size]
    body: dict[str, Any] = {"issues": [issue_json(state, state.issues[k], base) for k in page]}
    if start + size < len(keys):
        body["nextPageToken"] = str(start + size)
    else:
        body["isLast"] = True
    return 200, body


def issue_json(state: CloudState, issue: CloudIssue, base: str) -> dict[str, Any]:
    """An issue in REST v2 shape."""
    number = issue.key.split("-")[1]
    fields: dict[str, Any] = {
        "summary": issue.summary,
        "status": {
            "self": f"{base}/rest/api/2/status/{_STATUS_IDS[issue.status]}",
            "name": issue.status,
            "id": _STATUS_IDS[issue.status],
            "statusCategory": {"key": CATEGORIES[issue.status], "name": issue.status},
        },
        "issuetype": {"id": "10001", "name": "Story", "subtask": False},
        "assignee": user_json(state, issue.assignee, base) if issue.assignee else None,
        POINTS: issue.points,
        FLAGGED: [{"value": "Impediment", "id": "10019"}] if issue.flagged else None,
    }
    return {
        "id": str(10000 + int(number)),
        "key": issue.key,
        "self": f"{base}/rest/api/2/issue/{10000 + int(number)}",
        "fields": fields,
    }


def user_json(state: CloudState, account: str, base: str) -> dict[str, Any]:
    """A user as Cloud shows one: by accountId."""
    name, mail = state.users[account]
    return {
        "self": f"{base}/rest/api/2/user?accountId={account}",
        "accountId": account,
        "accountType": "atlassian",
        "emailAddress": mail,
        "displayName": name,
        "active": True,
    }


def fields() -> list[dict[str, Any]]:
    """GET field: the system fields /plan asks for and Cloud's points and flag fields."""

    def one(fid: str, name: str, custom: bool, kind: str) -> dict[str, Any]:
        return {
            "id": fid,
            "key": fid,
            "name": name,
            "custom": custom,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": [fid],
            "schema": {"type": kind},
        }

    return [
        one("summary", "Summary", False, "string"),
        one("status", "Status", False, "status"),
        one("assignee", "Assignee", False, "user"),
        one("issuetype", "Issue Type", False, "issuetype"),
        one(POINTS, "Story point estimate", True, "number"),
        one(FLAGGED, "Flagged", True, "array"),
    ]


def board_configuration(state: CloudState, base: str) -> dict[str, Any]:
    """GET board/{id}/configuration."""
    return {
        "id": state.board,
        "name": "OPS board",
        "type": "scrum",
        "self": f"{base}/rest/agile/1.0/board/{state.board}/configuration",
        "location": {"type": "project", "projectKeyOrId": "OPS"},
        "filter": {"id": "10001", "self": f"{base}/rest/api/2/filter/10001"},
        "columnConfig": {"columns": [], "constraintType": "issueCount"},
        "estimation": {
            "type": "field",
            "field": {"fieldId": POINTS, "displayName": "Story point estimate"},
        },
        "ranking": {"rankCustomFieldId": 10019},
    }
