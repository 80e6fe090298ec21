from collections.abc import Iterator

import pytest

from tests.transports.peers import Certificate, SmtpServer, make_self_signed, start_server


@pytest.fixture
def smtpd() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.controller.stop()


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_self_signed(tmp_path_factory.mktemp("tls"))
