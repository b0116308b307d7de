"""Crontab lines read the standard cron way, checked once for check-config and start-up alike.

Standard cron and APScheduler 3 disagree on weekdays: cron numbers them 0-7 with 0 and 7
both Sunday, APScheduler numbers them 0-6 from Monday. So the weekday field is never handed
over as written: it is expanded here to the set of days it means and given by name. Cron also
fires when either the day of month or the day of week matches if both are restricted; the
schedule says so (`either_day`), and the scheduler combines two triggers for it.
"""

from __future__ import annotations

from dataclasses import dataclass

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Cron's numbering: index 0 is Sunday (and 7 is Sunday again).
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# The order APScheduler's names are listed in, Monday first.
_WEEK_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, WEEKDAYS),
)


class CrontabError(ValueError):
    """The line is not a crontab schedule; the message says what is wrong, for the user."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A checked crontab line. Fields other than the weekdays are as written (APScheduler
    reads them the cron way); `weekdays` is `*` or day names, e.g. `mon,tue,wed,thu,fri`."""

    second: str
    minute: str
    hour: str
    day: str
    month: str
    weekdays: str
    either_day: bool


def parse_crontab(line: str, *, seconds: bool = False) -> Schedule:
    """Read `minute hour day-of-month month day-of-week` (with `seconds`, also six fields
    with seconds first). CrontabError says what is wrong."""
    fields = line.split()
    if seconds and len(fields) == 6:
        specs = _FIELDS
    elif len(fields) == 5:
        fields, specs = ["0", *fields], _FIELDS
    else:
        raise CrontabError(
            "must have 5 fields (minute hour day-of-month month day-of-week), "
            "e.g. '0 9 * * mon-fri'"
        )
    for text, spec in zip(fields, specs, strict=True):
        if problem := _field_problem(text, *spec):
            raise CrontabError(problem)
    second, minute, hour, day, month, weekday = fields
    days = weekday_names(weekday)
    return Schedule(
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        weekdays=days,
        # Vixie cron's rule: a field starting with `*` does not restrict.
        either_day=not day.startswith("*") and not weekday.startswith("*"),
    )


def weekday_names(field: str) -> str:
    """The days a cron day-of-week field means, by name, Monday first (`1-5` is
    `mon,tue,wed,thu,fri`; `0`, `7` and `sun` are Sunday); `*` when it means every day."""
    chosen: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        else:
            ends = [_weekday(token) for token in span.split("-")]
            first, last = ends[0], ends[-1] if len(ends) == 2 or step_text == "" else 7
        chosen.update(day % 7 for day in range(first, last + 1, step))
    if len(chosen) == 7:
        return "*"
    return ",".join(name for name in _WEEK_ORDER if WEEKDAYS.index(name) in chosen)


def _weekday(token: str) -> int:
    return int(token) if token.isdigit() else WEEKDAYS.index(token.lower())


def _field_problem(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> str:
    """What is wrong with one field, or '' when nothing is."""
    offset = 1 if names is MONTHS else 0
    for part in text.split(","):
        span, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            return f"{name} step must be a whole number of at least 1"
        if span == "*":
            continue
        values: list[int] = []
        for token in span.split("-"):
            if token.isdigit() and low <= int(token) <= high:
                values.append(int(token))
            elif token.lower() in names:
                values.append(names.index(token.lower()) + offset)
            else:
                hint = f", a name ({names[0]}..{names[-1]})" if names else ""
                return f"{name} must be *, a number from {low} to {high}{hint}, a range or a list"
        if len(values) > 2:
            return f"{name} has a malformed range"
        if len(values) == 2 and values[0] > values[1]:
            # Cron has no ranges that wrap around (fri-mon); a list says it plainly.
            example = (
                "fri-sat,sun-mon" if names is WEEKDAYS else f"{span.split('-')[0]}-{high},{low}-.."
            )
            return f"{name} range {span} runs backwards; write it as a list, e.g. {example}"
    return ""
