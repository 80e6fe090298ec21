"""Drafting the demo's patients, in this process or in several: the CPU-heavy half of
``surveil demo`` (synthesising each patient and replaying their past follow-ups against the
planner, ~85 % of the time once the rows are written with ``COPY``).

A drafted patient is its ``Draft`` and the rows of the follow-ups already done, not yet numbered:
the writer (generate.py) gives them ids in chunk order, so drafting in parallel changes nothing in
the registry. The replay does not depend on the patient's id (the facts carry it only as a label),
so it is drafted with a placeholder, 0, that the writer replaces.

Workers are started with ``spawn``: a forked child would inherit the parent's open database
connections, and tearing them down there can break the parent's session.
"""

import datetime as dt
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from surveil.demo.history import Protocol, done_row, history
from surveil.demo.patients import synthesise
from surveil.demo.story import Draft, Row

Drafted = tuple[Draft, list[Row]]
UNNUMBERED = 0  # the patient id the rows carry until the writer numbers them


@dataclass(frozen=True)
class Drafting:
    """Everything a drafting process needs besides the patient numbers (sent once per worker)."""

    seed: int
    today: dt.date
    timezone: str
    now: dt.datetime
    replay: Protocol | None


def past_followups(draft: Draft, *, now: dt.datetime, replay: Protocol | None) -> Drafted:
    """``draft`` with the rows of the follow-ups it has already had (none without ``replay``)."""
    if replay is None:
        return draft, []
    done = history(draft, patient_id=UNNUMBERED, created=now.date(), protocol=replay)
    return draft, [done_row(d, patient_id=UNNUMBERED, now=now) for d in done]


def draft_chunk(job: Drafting, numbers: range) -> list[Drafted]:
    return [
        past_followups(
            synthesise(job.seed, n, today=job.today, timezone=job.timezone),
            now=job.now,
            replay=job.replay,
        )
        for n in numbers
    ]


def drafted_chunks(
    job: Drafting, chunks: Sequence[range], *, workers: int
) -> Iterator[tuple[range, list[Drafted]]]:
    """Each chunk's numbers and drafted patients, in order; with ``workers`` > 1 drafted ahead
    in that many processes, at most two chunks per worker ahead of the writer (memory stays
    bounded however slow the writes are)."""
    if workers <= 1:
        for numbers in chunks:
            yield numbers, draft_chunk(job, numbers)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_remember, initargs=(job,)
    ) as pool:
        ahead: deque[tuple[range, Future[list[Drafted]]]] = deque()
        pending = iter(chunks)
        for numbers in pending:
            ahead.append((numbers, pool.submit(_draft_in_worker, numbers)))
            if len(ahead) >= 2 * workers:
                break
        while ahead:
            numbers, future = ahead.popleft()
            following = next(pending, None)
            if following is not None:
                ahead.append((following, pool.submit(_draft_in_worker, following)))
            yield numbers, future.result()


_job: Drafting | None = None  # a worker's drafting job, set once when it starts


def _remember(job: Drafting) -> None:
    global _job  # per-process state of a pool worker
    _job = job


def _draft_in_worker(numbers: range) -> list[Drafted]:
    assert _job is not None
    return draft_chunk(_job, numbers)
