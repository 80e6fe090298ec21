"""Garbage collection tuned for a batch (``replan --all``, the demo's first planning).

A batch allocates hundreds of thousands of short-lived objects (rows, facts, plans) that die
with their chunk; reference counting frees them. CPython's cycle collector nevertheless runs a
young-generation pass every 700 allocations and, every so often, a full pass over everything the
process holds (the loaded packs, SQLAlchemy's mappers and caches): about a quarter of a replan's
CPU time in a profile of 5,000 patients. During the batch we move what exists before it out of the
collector's sight (``gc.freeze``) and collect the young generation less often; both are put back
afterwards, so a long-lived process (the daemon, the web server) is unchanged.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young-generation passes every 50,000 net allocations instead of 700: a chunk's garbage is
# freed by reference counting, the rare cycle waits a little longer.
BATCH_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def batch_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
