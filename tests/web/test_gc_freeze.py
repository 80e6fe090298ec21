"""A web process freezes what start-up loaded out of the cycle collector's sight, and gives it
back at shutdown: a full collection during a request then walks only what requests made."""

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_start_up_is_frozen_while_serving_and_unfrozen_after(app: FastAPI) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/login").status_code == 200
        frozen = gc.get_freeze_count()
        # The app, its templates and mappers and the modules are all loaded by now.
        assert frozen > 10_000
        tracked = len(gc.get_objects())  # what a full collection would walk
        assert tracked < frozen
    assert gc.get_freeze_count() == 0
