"""The completed facts the bulk read builds from stored text are completed_facts' own."""

import datetime as dt
import random

from surveil.core.vocab import ItemKind
from surveil.db import queries as q

DAY = dt.date(2026, 3, 4)


def test_completed_from_stored_text_matches_completed_facts() -> None:
    """Same facts, same order, same de-duplication (a region of "" is none), for every kind:
    the read keeps kinds as text, which must sort exactly as the ItemKind members do."""
    rng = random.Random(19)
    kinds = list(ItemKind)
    for _ in range(300):
        triples = {
            (
                rng.choice(kinds),
                DAY + dt.timedelta(days=rng.choice([0, 1, 40, 400, -3000])),
                rng.choice([None, "pituitary", "neck", "Neck"]),
            )
            for _ in range(rng.randint(0, 15))
        }
        text = {(kind.value, day, region or "") for kind, day, region in triples}
        built = q._completed(text)
        assert built == q.completed_facts(triples)
        assert all(type(c.kind) is ItemKind for c in built)
    assert q._completed(set()) == ()
