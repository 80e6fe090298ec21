"""The crash-test hook: ``SURVEIL_TEST_KILL_AT=point[:n][,point[:n]...]`` makes the process
``os._exit(137)`` (no cleanup, no flush, like ``kill -9``) the n-th time (default: the first)
it passes ``point``. Points: ``after_claim``, ``after_sending``, ``after_smtp_accept``
(``delivery.py``), ``reply_before_commit`` and ``reply_after_commit`` (``replies.py``: an
inbound text applied but not committed, committed but not answered). Unset, a pass costs one
dictionary lookup.
"""

import os

KILL_ENV = "SURVEIL_TEST_KILL_AT"


def failpoint(name: str) -> None:
    """Exit here if the test asked for it (see the module docstring); a no-op otherwise."""
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    for part in spec.split(","):
        point, _, nth = part.strip().partition(":")
        if point == name:
            _hits[name] = _hits.get(name, 0) + 1
            if _hits[name] == int(nth or 1):
                os.write(2, f"{KILL_ENV}: exiting at {name} #{_hits[name]}\n".encode())
                os._exit(137)


_hits: dict[str, int] = {}
