from collections.abc import Iterator

import pytest

from tests.daemon.sink import Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink().start()
    yield server
    server.stop()
