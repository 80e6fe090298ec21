"""Who a command-line caller acts as: a named, active surveil user, or nothing at all."""

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from surveil.core.vocab import Channel
from surveil.db import models as m
from surveil.errors import PermissionDenied
from surveil.services.users import accounts


def _add(engine: sa.Engine, username: str, *, active: bool = True) -> None:
    with Session(engine) as session:
        accounts.add_user(
            session,
            username=username,
            display_name=None,
            role=m.Role.NAVIGATOR,
            clinic="north",
            password="a long enough passphrase",
        )
        session.commit()
        if not active:
            user = accounts.list_users(session)[0]
            user.active = False
            session.add(user)
            session.commit()


def test_a_known_active_user_is_the_actor_with_channel_and_os_account(engine: sa.Engine) -> None:
    _add(engine, "nina")
    actor = accounts.acting_user(engine, username="nina", os_user="ops", channel=Channel.CLI)
    assert (actor.username, actor.role, actor.clinic) == ("nina", "navigator", "north")
    assert (actor.channel, actor.os_user) == (Channel.CLI, "ops")


@pytest.mark.parametrize("username", [None, "", "ghost"])
def test_no_name_or_an_unknown_name_is_refused(engine: sa.Engine, username: str | None) -> None:
    _add(engine, "nina")
    with pytest.raises(PermissionDenied):
        accounts.acting_user(engine, username=username, os_user="ops", channel=Channel.CLI)


def test_an_inactive_user_is_refused(engine: sa.Engine) -> None:
    _add(engine, "nina", active=False)
    with pytest.raises(PermissionDenied, match="no active surveil user"):
        accounts.acting_user(engine, username="nina", os_user="ops", channel=Channel.CLI)
