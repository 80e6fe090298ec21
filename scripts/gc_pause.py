"""How long a full garbage collection holds up a web process, with and without start-up frozen.

    .venv/bin/python scripts/gc_pause.py sqlite:///.bench/registry-seed7-100000.db

Starts the app as ``surveil serve`` does (its lifespan: engine, login timing, feed counts, then
``gc.freeze()``), makes a few requests, and times ``gc.collect()`` five times as the app leaves
it, then five times with start-up's objects back in the collector's sight (``gc.unfreeze()``):
the pause a request meets when a full collection falls during it.
"""

import gc
import secrets
import sys
import time

from fastapi.testclient import TestClient

from surveil.config import load_settings
from surveil.web.app import create_app


def _full_collection_ms() -> float:
    began = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - began) * 1e3


def main(url: str) -> None:
    environ = {"SURVEIL_DATABASE_URL": url, "SURVEIL_WEB_SECRET_KEY": secrets.token_urlsafe(32)}
    app = create_app(load_settings(None, environ))
    with TestClient(app) as client:
        for path in ("/login", "/login", "/healthz"):
            client.get(path)
        frozen = gc.get_freeze_count()
        as_served = [_full_collection_ms() for _ in range(5)]
        gc.unfreeze()
        tracked = len(gc.get_objects())
        unfrozen = [_full_collection_ms() for _ in range(5)]
        gc.freeze()  # as the lifespan left it, for its own unfreeze at shutdown
    print(f"objects frozen at start-up: {frozen:,}; tracked once unfrozen: {tracked:,}")
    print("full collection as served (ms):", ", ".join(f"{ms:.2f}" for ms in as_served))
    print("full collection unfrozen (ms):  ", ", ".join(f"{ms:.1f}" for ms in unfrozen))


if __name__ == "__main__":
    main(sys.argv[1])
