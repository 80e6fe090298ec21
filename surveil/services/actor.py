"""Who is acting, as every service needs it: a person (web, CLI, API) or surveil itself."""

from dataclasses import dataclass

from surveil.core.vocab import Channel
from surveil.db import models as m

SYSTEM = "system"  # the actor name of surveil's own changes (daemon jobs, automatic consequences)


@dataclass(frozen=True)
class Actor:
    """Who is acting, as services need it: never the ORM row, so it can outlive a session."""

    username: str
    role: str
    clinic: str
    ip: str | None = None
    channel: Channel = Channel.WEB
    os_user: str | None = None  # the operating-system account behind a CLI command

    @property
    def is_admin(self) -> bool:
        return self.role == m.Role.ADMIN

    @classmethod
    def of(
        cls,
        user: m.User,
        ip: str | None = None,
        *,
        channel: Channel = Channel.WEB,
        os_user: str | None = None,
    ) -> "Actor":
        return cls(
            username=user.username,
            role=user.role,
            clinic=user.clinic,
            ip=ip,
            channel=channel,
            os_user=os_user,
        )

    @classmethod
    def system(cls, channel: Channel = Channel.DAEMON, *, clinic: str = "") -> "Actor":
        """surveil itself: the daemon's jobs and the automatic consequences of a change."""
        return cls(username=SYSTEM, role=m.Role.ADMIN, clinic=clinic, channel=channel)
