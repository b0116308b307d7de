"""Reading a test run's result out of what it printed: pytest's summary line, go test's
per-test lines, or a JUnit XML report. Output in no known format has no summary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

MAX_REPORT = 2_000_000

_PYTEST_LINE = re.compile(
    r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|warnings?|deselected)"
    r"(?:, )?)+) in [\d.]+s",
    re.MULTILINE,
)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")
_GO_RESULT = re.compile(r"^\s*--- (PASS|FAIL|SKIP): \S+", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class TestSummary:
    """How many tests passed, failed, errored and were skipped, and what said so."""

    __test__ = False  # not a pytest test class

    source: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

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


def summarise(output: str, junit_xml: bytes | None = None) -> TestSummary | None:
    """The summary of a test run: the JUnit report when there is a readable one, else the
    output read as pytest, then as go test; None when none of them fits."""
    if junit_xml:
        summary = parse_junit(junit_xml)
        if summary is not None:
            return summary
    return parse_pytest(output) or parse_go_test(output)


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
    """A JUnit XML report (`<testsuites>` or a single `<testsuite>`); None if unreadable."""
    if len(document) > MAX_REPORT or b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        return None
    try:
        # Safe here: documents declaring a DOCTYPE or entities were turned away above.
        root = ET.fromstring(document)  # noqa: S314
    except ET.ParseError:
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag not in ("testsuite", "testsuites") or not suites:
        return None
    tests = failed = errors = skipped = 0
    for suite in suites:
        try:
            tests += int(suite.get("tests", "0"))
            failed += int(suite.get("failures", "0"))
            errors += int(suite.get("errors", "0"))
            skipped += int(suite.get("skipped", suite.get("skip", "0")))
        except ValueError:
            return None
    return TestSummary(
        source="JUnit XML",
        passed=max(tests - failed - errors - skipped, 0),
        failed=failed,
        errors=errors,
        skipped=skipped,
    )
