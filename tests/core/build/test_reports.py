"""Test summaries read from pytest, go test and JUnit XML output."""

from __future__ import annotations

from bot.core.build.reports import parse_go_test, parse_junit, parse_pytest, summarise

PYTEST = """
tests/test_a.py ..F.s                                                    [100%]
=================================== FAILURES ===================================
========== 1 failed, 3 passed, 1 skipped, 2 warnings in 0.12s ==========
"""

GO = """
=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestSub
--- FAIL: TestSub (0.00s)
    --- PASS: TestSub/zero (0.00s)
--- SKIP: TestSlow (0.00s)
FAIL
FAIL    example.com/calc 0.003s
"""

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="a" tests="5" failures="1" errors="1" skipped="1"/>
  <testsuite name="b" tests="2" failures="0" errors="0" skipped="0"/>
</testsuites>"""


def test_pytest_summary_line() -> None:
    summary = parse_pytest(PYTEST)
    assert summary is not None
    assert (summary.passed, summary.failed, summary.skipped) == (3, 1, 1)
    assert summary.line() == "3 passed, 1 failed, 1 skipped (pytest)"


def test_pytest_all_passed_without_banner() -> None:
    summary = parse_pytest("....\n4 passed in 0.01s\n")
    assert summary is not None and (summary.passed, summary.failed) == (4, 0)


def test_go_test_verbose_results() -> None:
    summary = parse_go_test(GO)
    assert summary is not None
    assert (summary.passed, summary.failed, summary.skipped) == (2, 1, 1)


def test_junit_report_sums_its_suites() -> None:
    summary = parse_junit(JUNIT)
    assert summary is not None
    assert (summary.passed, summary.failed, summary.errors, summary.skipped) == (4, 1, 1, 1)
    assert parse_junit(b'<testsuite tests="2" failures="0"/>') is not None


def test_the_report_wins_over_the_output() -> None:
    summary = summarise(PYTEST, JUNIT)
    assert summary is not None and summary.source == "JUnit XML"


def test_unreadable_or_hostile_reports_fall_back_to_the_output() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite tests="&a;"/>'
    assert parse_junit(bomb) is None
    assert parse_junit(b"<html>not junit</html>") is None
    assert parse_junit(b"<testsuite tests='x'/>") is None
    summary = summarise(PYTEST, b"garbage")
    assert summary is not None and summary.source == "pytest"


def test_output_in_no_known_format_has_no_summary() -> None:
    assert summarise("all good!\n") is None
