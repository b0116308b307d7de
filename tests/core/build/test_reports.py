"""Test summaries read from pytest, go test and JUnit XML output."""

from __future__ import annotations

from bot.core.build.reports import (
    FailedTest,
    failing_names,
    parse_go_test,
    parse_junit,
    parse_pytest,
    summarise,
)

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
  <testsuite name="a" tests="5" failures="1" errors="1" skipped="1">
    <testcase classname="tests.test_a" name="test_one"/>
    <testcase classname="tests.test_a" name="test_two"/>
    <testcase classname="tests.test_a" name="test_three">
      <failure message="assert 1 == 2">Traceback...</failure>
    </testcase>
    <testcase classname="tests.test_a" name="test_four"><error message="boom"/></testcase>
    <testcase classname="tests.test_a" name="test_five"><skipped/></testcase>
  </testsuite>
  <testsuite name="b" tests="2" failures="0" errors="0" skipped="0">
    <testcase classname="tests.test_b" name="test_six"/>
    <testcase classname="tests.test_b" name="test_seven"/>
  </testsuite>
</testsuites>"""

# No counts on any suite, and suites nested in suites (as Gradle and some runners write).
NESTED_WITHOUT_COUNTS = b"""<testsuites>
  <testsuite name="outer">
    <testsuite name="inner">
      <testcase classname="calc" name="adds"/>
      <testcase classname="calc" name="subtracts">
        <failure message="expected 1, got 2"/>
      </testcase>
    </testsuite>
    <testcase classname="calc" name="divides"/>
  </testsuite>
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


def test_junit_report_counts_its_test_cases() -> None:
    summary = parse_junit(JUNIT)
    assert summary is not None
    assert (summary.passed, summary.failed, summary.errors, summary.skipped) == (4, 1, 1, 1)
    assert [failure.line() for failure in summary.failures] == [
        "tests.test_a.test_three: assert 1 == 2",
        "tests.test_a.test_four: boom",
    ]


def test_a_report_without_counts_and_with_nested_suites_is_counted_by_its_cases() -> None:
    summary = parse_junit(NESTED_WITHOUT_COUNTS)
    assert summary is not None
    assert (summary.passed, summary.failed) == (2, 1)
    assert summary.line() == "2 passed, 1 failed (JUnit XML)"
    assert [failure.name for failure in summary.failures] == ["calc.subtracts"]


def test_a_report_with_no_test_cases_leaves_the_output_summary_standing() -> None:
    # Suite counts alone (or an empty report) must not replace a correct pytest summary.
    summary = summarise(PYTEST, b'<testsuites><testsuite name="x"/></testsuites>')
    assert summary is not None and summary.source == "pytest"
    assert summarise(PYTEST, b'<testsuite tests="9" failures="0"/>') == parse_pytest(PYTEST)


def test_failing_names_are_shortened_for_one_line() -> None:
    failures = tuple(FailedTest(f"t{n}") for n in range(7))
    assert failing_names(failures[:2], 2) == "`t0`, `t1`"
    assert failing_names(failures, 30) == "`t0`, `t1`, `t2`, `t3`, `t4` and 25 more"


def test_the_report_wins_over_the_output() -> None:
    summary = summarise(PYTEST, JUNIT)
    assert summary is not None and summary.source == "JUnit XML"


def test_unreadable_or_hostile_reports_fall_back_to_the_output() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite tests="&a;"/>'
    assert parse_junit(bomb) is None
    assert parse_junit(b"<html>not junit</html>") is None
    assert parse_junit(b"<testsuite tests='x'/>") is None
    assert parse_junit(b"<testsuite><testcase name='a'/>") is None  # cut short
    summary = summarise(PYTEST, b"garbage")
    assert summary is not None and summary.source == "pytest"


def test_output_in_no_known_format_has_no_summary() -> None:
    assert summarise("all good!\n") is None


def test_a_summary_line_from_a_command_that_is_not_pytest_is_credited_to_the_command() -> None:
    output = "ok 1\nok 2\n2 passed in 0.01s\n"
    by_script = summarise(output, None, ("sh", "/tests/run.sh"))
    assert by_script is not None and by_script.line() == "2 passed (`sh /tests/run.sh`)"
    for command in (("pytest", "-q"), ("python", "-m", "pytest"), ("/venv/bin/pytest",)):
        by_pytest = summarise(output, None, command)
        assert by_pytest is not None and by_pytest.line() == "2 passed (pytest)"
    go = summarise(GO, None, ("go", "test", "-v", "./..."))
    assert go is not None and go.source == "go test"
    assert summarise(GO, None, ("make", "check")).source == "`make check`"  # type: ignore[union-attr]
