"""Headless Chromium for the console's browser tests, driven through chromedriver's W3C
WebDriver HTTP API (Debian's chromium and chromium-driver; scripts/ensure-browser installs
them). Without them the tests skip, except with CI=true, where they fail."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

DEADLINE = 15.0
# The machine has no network: nothing Chromium would fetch on its own is wanted.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
ENTER = "\ue007"
STARTED = re.compile(r"started successfully on port (\d+)")


def required() -> bool:
    """Whether a missing browser fails the run (CI=true) instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip, or fail under CI, because the browser cannot run here."""
    if required():
        pytest.fail(f"the browser test is required under CI: {reason}")
    pytest.skip(f"{reason} (run scripts/ensure-browser)")


class Browser:
    """One headless Chromium session: open pages, find, click, type and read elements."""

    def __init__(self, profile: Path) -> None:
        chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
        if chromium is None or driver is None:
            unavailable("chromium or chromedriver is not installed")
            raise AssertionError("unreachable")
        self._driver = subprocess.Popen(
            [driver, "--port=0", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        port = self._driver_port()
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        options = {"binary": chromium, "args": [*FLAGS, f"--user-data-dir={profile}"]}
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        try:
            session = self._call(
                "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}
            )
        except (httpx.HTTPError, RuntimeError) as error:
            self.close()
            unavailable(f"headless chromium did not start: {error}")
        self._session = f"/session/{session['sessionId']}"

    def _driver_port(self) -> int:
        assert self._driver.stdout is not None
        for line in self._driver.stdout:
            found = STARTED.search(line)
            if found:
                return int(found.group(1))
        self._driver.wait(timeout=10)
        unavailable("chromedriver exited before it listened")
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self._http.request(method, path, json=body)
        value = answer.json().get("value")
        if answer.status_code != 200:
            raise RuntimeError(f"{method} {path}: {value}")
        return value

    # -- pages and elements --------------------------------------------------------------
    def open(self, url: str) -> None:
        """Load ``url`` in the tab."""
        self._call("POST", f"{self._session}/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: ``return ...``) in the page; its value."""
        return self._call("POST", f"{self._session}/execute/sync", {"script": script, "args": args})

    def wait_for(self, script: str, *args: Any, timeout: float = DEADLINE, what: str = "") -> Any:
        """Re-run ``script`` until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never showed {what or script}")
            time.sleep(0.1)

    def element(self, css: str, timeout: float = DEADLINE) -> str:
        """The first element matching ``css``, waiting for it to appear."""
        self.wait_for(
            "return document.querySelector(arguments[0]) !== null",
            css,
            timeout=timeout,
            what=css,
        )
        found = self._call(
            "POST", f"{self._session}/element", {"using": "css selector", "value": css}
        )
        return str(found[ELEMENT])

    def _on_element(
        self, css: str, action: str, body: dict[str, Any], timeout: float = DEADLINE
    ) -> None:
        # The console re-renders a message when it changes: an element found a moment ago
        # may be gone by the time it is clicked, so it is found again, as a person would.
        deadline = time.monotonic() + timeout
        while True:
            found = self.element(css, timeout=max(deadline - time.monotonic(), 0.1))
            try:
                self._call("POST", f"{self._session}/element/{found}/{action}", body)
                return
            except RuntimeError as error:
                if "stale element reference" not in str(error) or time.monotonic() > deadline:
                    raise

    def click(self, css: str, timeout: float = DEADLINE) -> None:
        """Click the first element matching ``css`` as a person would."""
        self._on_element(css, "click", {}, timeout)

    def type(self, css: str, text: str) -> None:
        """Type ``text`` into the element matching ``css`` (ENTER presses the key)."""
        self._on_element(css, "value", {"text": text})

    def select(self, css: str, value: str) -> None:
        """Pick the option with ``value`` in the select matching ``css``."""
        self.click(f"{css} option[value='{value}']")

    def close(self) -> None:
        """End the session, Chromium and chromedriver."""
        with contextlib.suppress(httpx.HTTPError, RuntimeError, AttributeError):
            self._call("DELETE", self._session)
        with contextlib.suppress(AttributeError):
            self._http.close()
        self._driver.terminate()
        try:
            self._driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._driver.kill()
            self._driver.wait()


@contextlib.contextmanager
def browser(profile: Path) -> Iterator[Browser]:
    """A fresh headless Chromium with its own profile folder, closed afterwards."""
    running = Browser(profile)
    try:
        yield running
    finally:
        running.close()
