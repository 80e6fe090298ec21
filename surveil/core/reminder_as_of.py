"""A reminder as it stood at a past moment, replayed from its delivery ledger (issue 20).

Pure: the service hands in every ledger row of the reminder (each attempt: when it started and
finished, how it ended, the provider's answer), the audited "retry" actions (when, and the
state they found), and the reminder's state now. Every change of a reminder's state, attempt
count and last error is one of these:

- an attempt opens (``sending``; one attempt more), then closes as ``sent`` (the error is
  cleared), ``retry`` (waiting again), ``failed`` or ``unknown`` (the error is the answer);
- a row closed without sending (``suppressed``, or ``failed`` before any send: a window closed,
  attempts used up) is a ledger row that started and finished at the same instant and never
  opened, so it counts no attempt;
- the daemons' sweep closes an attempt cut short by a crash as ``unknown``, with its own
  wording in the ledger and in the row (``swept``);
- a navigator's retry queues it again: ``pending``, no attempts, no error.

An ``unknown`` ending leaves the row ``unknown`` (to be sent again) or ``failed`` (no attempt
left): what came next tells which (a new attempt means it was waiting, a retry says what it
found), and after the last event the row as it is now is that state.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PENDING, SENDING, SENT, FAILED, UNKNOWN = "pending", "sending", "sent", "failed", "unknown"
ON_THE_WORKLIST = (FAILED, UNKNOWN)
_AFTER = {"sent": SENT, "retry": PENDING, "failed": FAILED, "suppressed": "suppressed"}


@dataclass(frozen=True)
class LedgerRow:
    """One delivery attempt (``delivery_attempt``), ordered by ``id``."""

    id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    response: str


@dataclass(frozen=True)
class Retry:
    """A navigator's retry (the audit's ``reminder.retry``) and the state it found."""

    at: dt.datetime
    found: str


@dataclass(frozen=True)
class ReminderThen:
    state: str
    attempts: int
    last_error: str


@dataclass(frozen=True)
class _Event:
    at: dt.datetime
    rank: int  # at one instant: an attempt opens before it closes
    key: int
    kind: str  # "open", "close" or "retry"
    row: LedgerRow | None = None
    found: str = ""


def reminder_then(
    ledger: Sequence[LedgerRow],
    retries: Sequence[Retry],
    *,
    moment: dt.datetime,
    state_now: str,
    swept: Mapping[str, str],
) -> ReminderThen:
    """The reminder's state, attempt count and last error at ``moment`` (``pending`` with no
    attempt before anything happened). ``swept`` maps the ledger's wording of an attempt the
    sweep closed to the error the sweep wrote into the row."""
    events = sorted(_events(ledger, retries), key=lambda e: (e.at, e.rank, e.key))
    state, attempts, error = PENDING, 0, ""
    for n, event in enumerate(events):
        if event.at > moment:
            break
        if event.kind == "retry":
            state, attempts, error = PENDING, 0, ""
            continue
        row = event.row
        assert row is not None  # an attempt's event always carries its row
        if event.kind == "open":
            state, attempts = SENDING, attempts + 1
            continue
        if row.status == "unknown":
            state = _after_unknown(events[n + 1 :], state_now)
        else:
            state = _AFTER.get(row.status, state)
        if row.status == "sent" or row.status == "suppressed":
            error = ""
        else:
            error = swept.get(row.response, row.response)
    return ReminderThen(state, attempts, error)


def _events(ledger: Sequence[LedgerRow], retries: Sequence[Retry]) -> list[_Event]:
    events = [_Event(r.at, 2, n, "retry", found=r.found) for n, r in enumerate(retries)]
    for row in ledger:
        closed_unsent = row.started_at == row.finished_at and row.status in ("failed", "suppressed")
        if not closed_unsent:
            events.append(_Event(row.started_at, 0, row.id, "open", row))
        if row.finished_at is not None and row.status != SENDING:
            events.append(_Event(row.finished_at, 1, row.id, "close", row))
    return events


def _after_unknown(later: Sequence[_Event], state_now: str) -> str:
    if not later:
        return state_now if state_now in ON_THE_WORKLIST else UNKNOWN
    following = later[0]
    if following.kind == "retry":
        return following.found if following.found in ON_THE_WORKLIST else UNKNOWN
    return UNKNOWN  # another attempt opened: it was waiting to be sent again
