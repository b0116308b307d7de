"""jira820 (an emulator of Jira Data Center 8.20.8) as a subprocess on an ephemeral port,
seeded per test with a small world of our own.

The subprocess runs this module (`python -m tests.support.jira_dc`): it binds 127.0.0.1:0,
prints the port, and serves jira820's app with one extra route, POST /_seed, which replaces
the whole store with the world given as JSON, so one process serves many tests.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
PROJECT = "OPS"
BOARD = 7
TODAY = date(2026, 1, 7)
STATUSES = [
    ["To Do", "todo", "1"],
    ["In Progress", "inprogress", "3"],
    ["Blocked", "inprogress", "10005"],
    ["In Review", "inprogress", "10001"],
    ["Done", "done", "10002"],
]
USERS = {
    "alice": "Alice Adams",
    "bob": "Bob Brown",
    "carol": "Carol Clark",
}


@dataclass
class World:
    """Users, one scrum board, its sprints and issues, to seed jira820 with."""

    issues: list[dict[str, Any]] = field(default_factory=list)
    sprints: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: int = 0
    board: int = BOARD

    def sprint(
        self, sid: int, name: str, state: str, *, goal: str = "", start: int = -7, length: int = 14
    ) -> World:
        """A sprint starting `start` days from TODAY."""
        begin = TODAY + timedelta(days=start)
        self.sprints.append(
            {
                "id": sid,
                "name": name,
                "state": state,
                "boardId": self.board,
                "goal": goal,
                "startDate": begin.isoformat(),
                "endDate": (begin + timedelta(days=length)).isoformat(),
                "completeDate": None,
            }
        )
        return self

    def issue(
        self,
        number: int,
        summary: str,
        status: str = "To Do",
        *,
        assignee: str | None = None,
        points: float | None = None,
        sprint: int | None = None,
        kind: str = "Story",
    ) -> World:
        """An issue OPS-<number>."""
        category = next(s[1] for s in STATUSES if s[0] == status)
        self.issues.append(
            {
                "key": f"{PROJECT}-{number}",
                "project": PROJECT,
                "type": kind,
                "summary": summary,
                "description": None,
                "module": "Web",
                "component": None,
                "assignee": assignee,
                "reporter": "alice",
                "statusName": status,
                "statusCategory": category,
                "resolution": "Done" if category == "done" else None,
                "labels": [],
                "priority": None,
                "sp": points,
                "epicKey": None,
                "epicName": None,
                "parentKey": None,
                "created": TODAY.isoformat(),
                "updated": TODAY.isoformat(),
                "resolved": TODAY.isoformat() if category == "done" else None,
                "due": None,
                "tcreated": "09:00",
                "tupdated": "09:00",
                "tresolved": "09:00" if category == "done" else None,
                "comments": [],
                "worklog": [],
                "subtasks": [],
                "sprints": [sprint] if sprint else [],
                "fixVersions": [],
                "changelog": [],
                "links": [],
                "remotelinks": [],
                "watches": 0,
                "votes": 0,
            }
        )
        return self

    def as_json(self) -> dict[str, Any]:
        """What POST /_seed takes."""
        return {
            "issues": self.issues,
            "sprints": self.sprints,
            "latency_ms": self.latency_ms,
            "board": self.board,
        }


class JiraDC:
    """A running jira820 process."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    def seed(self, world: World) -> None:
        """Replace everything in the emulator with `world`."""
        answer = httpx.post(f"{self.url}/_seed", json=world.as_json(), timeout=10)
        answer.raise_for_status()

    def issue(self, key: str) -> dict[str, Any]:
        """An issue as the emulator has it now (REST v2)."""
        answer = httpx.get(f"{self.url}/rest/api/2/issue/{key}", timeout=10)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data


@contextmanager
def running_jira_dc() -> Iterator[JiraDC]:
    """Start jira820 in a subprocess; stop it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.jira_dc"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"jira820 did not start: {line!r}")
        yield JiraDC(process, int(line))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _build_store(world: dict[str, Any]) -> Any:
    from jira820.config import Config
    from jira820.store import Store, _issue_from_json, _sprint_from_json

    config = Config(
        project_key=PROJECT,
        project_name="Operations",
        base_date=TODAY,
        statuses=[list(s) for s in STATUSES],
        latency_ms=int(world.get("latency_ms") or 0),
    )
    store = Store(config, seed=False)
    store.users = {uid: {"name": uid, "displayName": name} for uid, name in USERS.items()}
    board = int(world.get("board") or BOARD)
    store.boards = {
        board: {
            "id": board,
            "name": "OPS board",
            "type": "scrum",
            "projectKey": PROJECT,
            "filterId": 10100,
        }
    }
    store.sprints = {int(s["id"]): _sprint_from_json(s) for s in world.get("sprints", [])}
    store.issues = {i["key"]: _issue_from_json(i) for i in world.get("issues", [])}
    store.reindex()
    store._counter = store._max_counter()
    store._sprint_seq = max(store.sprints) if store.sprints else 0
    return store


def _serve() -> None:
    import uvicorn
    from jira820 import make_app
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    first = _build_store({})
    app = make_app(store=first)

    async def seed(request: Request) -> JSONResponse:
        app.state.store = _build_store(await request.json())
        # jira820's latency middleware reads the store it was built with.
        first.config.latency_ms = app.state.store.config.latency_ms
        return JSONResponse({"ok": True})

    app.router.add_route("/_seed", seed, methods=["POST"])

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listen before telling the port: a seed sent while uvicorn still starts then waits in
    # the backlog instead of being refused.
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    _serve()
