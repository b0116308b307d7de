"""The README's sandbox walk, as a newcomer takes it: `opsloop sandbox`, then the console
in a real (headless) browser, as alice in #dev and carol approving; then `opsloop sandbox
--reset` and the same walk again, which must work as the first did and never deploy the
first walk's image. Needs Docker in Swarm mode, the registry on 127.0.0.1:5000, port 18080
free and Chromium (all required under CI=true); run it under the Docker lock."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest

from bot.sandbox.home import HOME, read_namespace
from tests.browser import ENTER, Browser, browser, unavailable
from tests.scenarios.deploy.support import swarm
from tests.specs import REPO

pytestmark = pytest.mark.docker
__all__ = ["swarm"]  # the fixture that puts the engine in Swarm mode

STAGING = "http://127.0.0.1:18080/healthz"  # the sample's staging deployment
JOB = 90.0  # a build, test or release of the small sample image
SWARM = 180.0  # an approved Swarm rollout, health checks included


@dataclass
class Sandbox:
    """A running `opsloop sandbox` and where it writes its log."""

    process: subprocess.Popen[str]
    url: str
    log: Path

    def tail(self) -> str:
        """The end of the sandbox's log, for a failure message."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


def _env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSLOOP_"))}
    return {**clean, "PYTHONPATH": str(REPO)}  # this checkout, whatever is installed


def _start(folder: Path, log: Path) -> Sandbox:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0"],
        cwd=folder, env=_env(), stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first.startswith("opsloop sandbox: open http://127.0.0.1:"):
        process.kill()
        raise AssertionError(f"the sandbox did not start: {first!r}\n{log.read_text()}")
    return Sandbox(process, first.split()[3], log)


def _stop(sandbox: Sandbox) -> None:
    sandbox.process.send_signal(signal.SIGINT)
    assert sandbox.process.wait(timeout=60) == 0, sandbox.tail()


def _reset(folder: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "sandbox", "--reset"],
        cwd=folder, env=_env(), capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def _staging_answer() -> str:
    try:
        return httpx.get(STAGING, timeout=5, trust_env=False).text.strip()
    except httpx.HTTPError:
        return ""


class Console:
    """The console page, used as a person would: type commands, pick who you are, react."""

    def __init__(self, page: Browser, sandbox: Sandbox) -> None:
        self.page = page
        self.sandbox = sandbox

    def be(self, user_id: str) -> None:
        self.page.select("#user", user_id)
        self.page.wait_for("return document.getElementById('user').value === arguments[0]", user_id)

    def run(self, line: str) -> None:
        self.page.type("#command", line + ENTER)

    def shows(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """Wait until the channel on screen shows text matching ``pattern``."""
        script = "return document.getElementById('messages').innerText"
        try:
            self.page.wait_for(
                "return new RegExp(arguments[0]).test(document.getElementById('messages')"
                ".innerText)",
                pattern,
                timeout=timeout,
                what=pattern,
            )
        except TimeoutError:
            said = self.page.run(script)
            raise AssertionError(
                f"#dev never showed {pattern!r}; it shows:\n{said}\n--- sandbox log ---\n"
                f"{self.sandbox.tail()}"
            ) from None
        found = re.search(pattern, str(self.page.run(script)))
        assert found is not None
        return found

    def react_under(self, pattern: str, reaction: str) -> None:
        """Add ``reaction`` under the newest message matching ``pattern``, through the
        add-reaction control."""
        ts = self.page.run(
            "const found = [...document.querySelectorAll('#messages > .msg')]"
            ".filter((m) => new RegExp(arguments[0]).test(m.innerText));"
            "return found.length ? found[found.length - 1].dataset.ts : null",
            pattern,
        )
        assert ts, f"no message shows {pattern!r}"
        # A re-render of the message closes an open picker: open it again, as a person would.
        for attempt in range(3):
            self.page.click(f".msg[data-ts='{ts}'] .add-reaction")
            try:
                self.page.click(
                    f".msg[data-ts='{ts}'] .picker button[data-reaction='{reaction}']", timeout=5
                )
                return
            except (TimeoutError, RuntimeError):
                if attempt == 2:
                    raise


@dataclass(frozen=True)
class Walk:
    """What one walk left behind: its namespace and the revision it released."""

    namespace: str
    revision: str


def _walk(folder: Path, profile: Path, client: docker.DockerClient, *, again: bool) -> Walk:
    sandbox = _start(folder, folder.parent / f"sandbox-{profile.name}.log")
    try:
        namespace = read_namespace(folder / HOME)
        assert namespace is not None
        with browser(profile) as page:
            page.open(sandbox.url + "#dev")
            console = Console(page, sandbox)
            console.be("U0ALICE")
            if again:
                # The first walk's 1.0.0 is gone with its state: nothing to deploy yet.
                console.run("/deploy web 1.0.0 to staging")
                console.shows(r"Version 1\.0\.0 of web is not in the registry")
                assert _staging_answer() == ""
            console.run("/ops help")
            console.shows(r"opsloop runs the DevOps loop from Slack")
            console.run("/build web")
            # The private "Started" note sits above the job's message, which ends on the result.
            started = r"Started build-[0-9a-f]{6}[\s\S]*Build web @ (\w+) \(HEAD\) — succeeded"
            revision = console.shows(started, JOB).group(1)
            console.run("/test web")
            console.shows(rf"Test web @ {revision} \(HEAD\) — succeeded", JOB)
            console.run("/release web 1.0.0")
            console.shows(rf"Release web 1\.0\.0 @ {revision} \(HEAD\) — succeeded", JOB)
            console.run("/deploy web 1.0.0 to staging")
            console.shows(r"Deploy #\d+: web .*→ 1\.0\.0 to staging — succeeded", JOB)
            assert _staging_answer() == "ok"
            staging = _running(client, f"127.0.0.1:5000/{namespace}/web:1.0.0")
            assert staging and all(revision in found for found in staging), staging
            console.run("/deploy web 1.0.0 to prod")
            console.shows(r"Deploy #\d+: web .*→ 1\.0\.0 to prod — pending")
            console.be("U0CAROL")
            console.react_under(r"to prod — pending", "white_check_mark")
            console.shows(r"Deploy #\d+: web .*→ 1\.0\.0 to prod — succeeded", SWARM)
            console.shows(r"Approvals: 1/1 \(@carol\)")
            assert _swarm_services(client, f"127.0.0.1:5000/{namespace}/web:1.0.0")
    finally:
        _stop(sandbox)
    return Walk(namespace, revision)


def _running(client: docker.DockerClient, image: str) -> list[str]:
    """The revision labels of the running containers started from ``image``."""
    return [
        str(c.labels.get("org.opencontainers.image.revision", ""))
        for c in client.containers.list()
        if c.attrs["Config"]["Image"] == image
    ]


def _swarm_services(client: docker.DockerClient, image: str) -> list[str]:
    return [
        str(s.name)
        for s in client.services.list()
        if str(s.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]).startswith(image)
    ]


@pytest.fixture
def engine(swarm: docker.DockerClient, registry_addr: str) -> Iterator[docker.DockerClient]:
    """The engine in Swarm mode (the sample's prod is a Swarm service), checked to be what
    the sample config needs before anything runs."""
    if registry_addr != "127.0.0.1:5000":
        unavailable(f"the sandbox's sample pushes to 127.0.0.1:5000, not {registry_addr}")
    if _staging_answer():
        unavailable(f"something already answers on {STAGING}; the sample's staging needs it")
    yield swarm


def test_the_readme_walk_twice_through_the_console(
    engine: docker.DockerClient, busybox_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "newcomer"
    folder.mkdir()
    try:
        first = _walk(folder, tmp_path / "first", engine, again=False)
        said = _reset(folder)
        assert f"registry: deleted 127.0.0.1:5000/{first.namespace}/web:1.0.0" in said
        assert _staging_answer() == ""
        # Nothing of the first walk is left on the engine, its proxy (which holds the
        # staging port) included.
        assert _publishing_staging(engine) == []
        second = _walk(folder, tmp_path / "second", engine, again=True)
        assert second.namespace != first.namespace
        assert second.revision != first.revision  # a new sample repository, released anew
    finally:
        _reset(folder)
    assert not (folder / HOME).exists()
    assert _publishing_staging(engine) == []


def _publishing_staging(engine: docker.DockerClient) -> list[str]:
    """The containers that publish the sample's staging port."""
    port = str(httpx.URL(STAGING).port)
    return [str(c.name) for c in engine.containers.list(all=True, filters={"publish": port})]
