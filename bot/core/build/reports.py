"""Reading a test run's result out of what it printed: pytest's summary line, go test's
per-test lines, or a JUnit XML report (read with junitparser: test cases counted, failing
ones named with their messages). Output in no known format has no summary."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import PurePosixPath
from xml.etree.ElementTree import ParseError

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, TestCase

MAX_REPORT = 2_000_000
MAX_FAILURES = 20

_PYTEST_LINE = re.compile(
    r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|warnings?|deselected)"
    r"(?:, )?)+) in [\d.]+s",
    re.MULTILINE,
)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")
_GO_RESULT = re.compile(r"^\s*--- (PASS|FAIL|SKIP): \S+", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class FailedTest:
    """A test that failed or errored: `classname.name` and the first line of its message."""

    __test__ = False  # not a pytest test class

    name: str
    message: str = ""

    def line(self) -> str:
        """`tests.test_app.test_two: assert 1 == 2`, or just the name."""
        return f"{self.name}: {self.message}" if self.message else self.name


@dataclass(frozen=True, slots=True)
class TestSummary:
    """How many tests passed, failed, errored and were skipped, and what said so."""

    __test__ = False  # not a pytest test class

    source: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: tuple[FailedTest, ...] = ()

    @property
    def total(self) -> int:
        """All tests counted."""
        return self.passed + self.failed + self.errors + self.skipped

    def line(self) -> str:
        """`12 passed, 1 failed, 2 skipped (pytest)`; counts of zero are left out but passed."""
        parts = [f"{self.passed} passed"]
        parts += [f"{self.failed} failed"] if self.failed else []
        parts += [f"{self.errors} errors"] if self.errors else []
        parts += [f"{self.skipped} skipped"] if self.skipped else []
        return f"{', '.join(parts)} ({self.source})"


def summarise(
    output: str, junit_xml: bytes | None = None, command: Sequence[str] = ()
) -> TestSummary | None:
    """The summary of a test run: the JUnit report when there is a readable one, else the
    output read as pytest, then as go test; None when none of them fits. Output in pytest's
    or go test's format from a `command` that is not that tool is credited to the command
    (`/bin/sh run.sh`), not to the tool."""
    if junit_xml:
        summary = parse_junit(junit_xml)
        if summary is not None:
            return summary
    summary = parse_pytest(output) or parse_go_test(output)
    if summary is None or not command or _runs(command, summary.source):
        return summary
    return replace(summary, source=f"`{' '.join(command)[:60]}`")


def _runs(command: Sequence[str], tool: str) -> bool:
    """Whether `command` runs `tool` (pytest, go test), directly or through `python -m`."""
    names = [PurePosixPath(word).name for word in command]
    pairs = list(pairwise(names))
    if tool == "pytest":
        return any(n in ("pytest", "py.test") for n in names) or ("-m", "pytest") in pairs
    if tool == "go test":
        return ("go", "test") in pairs
    return True


def parse_pytest(output: str) -> TestSummary | None:
    """pytest's last summary line: `=== 3 passed, 1 failed, 2 skipped in 0.12s ===`."""
    lines = _PYTEST_LINE.findall(output)
    if not lines:
        return None
    counts: dict[str, int] = {}
    for number, word in _PYTEST_COUNT.findall(lines[-1]):
        counts[word] = counts.get(word, 0) + int(number)
    return TestSummary(
        source="pytest",
        passed=counts.get("passed", 0) + counts.get("xpassed", 0),
        failed=counts.get("failed", 0),
        errors=counts.get("error", 0) + counts.get("errors", 0),
        skipped=counts.get("skipped", 0) + counts.get("xfailed", 0),
    )


def parse_go_test(output: str) -> TestSummary | None:
    """go test -v's `--- PASS: TestX`, `--- FAIL: ...` and `--- SKIP: ...` lines."""
    results = _GO_RESULT.findall(output)
    if not results:
        return None
    return TestSummary(
        source="go test",
        passed=results.count("PASS"),
        failed=results.count("FAIL"),
        skipped=results.count("SKIP"),
    )


def parse_junit(document: bytes) -> TestSummary | None:
    """A JUnit XML report (`<testsuites>` or one `<testsuite>`, suites nested at any depth):
    its test cases counted and its failing ones named. Suite-level counts are not read (many
    tools leave them out). None when the report is unreadable, too large, declares a DOCTYPE
    or entities, or holds no test case, so that the output's own summary is used instead."""
    if len(document) > MAX_REPORT or b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        return None
    try:
        # Safe here: documents declaring a DOCTYPE or entities were turned away above.
        report = JUnitXml.fromstring(document)
        cases = [case for suite in report for case in suite]
    except (ParseError, JUnitXmlError, ValueError):
        return None
    if not cases:
        return None
    failed = [case for case in cases if case.is_failure]
    errors = [case for case in cases if case.is_error and not case.is_failure]
    skipped = [case for case in cases if case.is_skipped and not (case.is_failure or case.is_error)]
    return TestSummary(
        source="JUnit XML",
        passed=len(cases) - len(failed) - len(errors) - len(skipped),
        failed=len(failed),
        errors=len(errors),
        skipped=len(skipped),
        failures=tuple(_failed_test(case) for case in [*failed, *errors][:MAX_FAILURES]),
    )


def failing_names(failures: tuple[FailedTest, ...], count: int, shown: int = 5) -> str:
    """`test_a, test_b and 3 more`: the first failing tests by name, for a one-line detail."""
    names = ", ".join(f"`{failure.name}`" for failure in failures[:shown])
    more = count - min(len(failures), shown)
    return f"{names} and {more} more" if more > 0 else names


def _failed_test(case: TestCase) -> FailedTest:
    name = str(case.name or "")
    classname = str(case.classname or "")
    full = f"{classname}.{name}" if classname and name else name or classname or "(unnamed)"
    message = ""
    for result in case.result:
        if isinstance(result, (Failure, Error)):
            message = str(result.message or result.text or "").strip()
            break
    return FailedTest(name=full[:200], message=message.splitlines()[0][:300] if message else "")
