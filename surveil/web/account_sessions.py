"""The signed-in user's own sessions: where they are signed in, and signing one (or all the
others) out. Every user may open it; it shows only their own sessions."""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from surveil.errors import NotFound
from surveil.services.users import web_sessions
from surveil.services.users.web_sessions import SessionView
from surveil.web import security
from surveil.web.contexts import Frame
from surveil.web.deps import ActorDep, EngineDep, SettingsDep, UserDep, flash, frame, render

router = APIRouter(prefix="/account")


@dataclass(frozen=True)
class SessionsPage:
    frame: Frame
    sessions: tuple[SessionView, ...]
    current: int | None  # the id of the session this page was opened in


@router.get("/sessions", name="account.sessions")
def sessions_page(
    request: Request, engine: EngineDep, settings: SettingsDep, user: UserDep
) -> Response:
    assert user.id is not None
    page = SessionsPage(
        frame=frame(request, user, section="account", settings=settings),
        sessions=tuple(web_sessions.list_for_user(engine, user_id=user.id)),
        current=security.session_id(request),
    )
    return render(request, "web/account/sessions.html", page)


@router.post("/sessions/{session_id}/end", name="account.sessions_end")
def end_one(
    request: Request, session_id: int, engine: EngineDep, user: UserDep, actor: ActorDep
) -> Response:
    assert user.id is not None
    try:
        web_sessions.end_session(engine, actor=actor, user_id=user.id, session_id=session_id)
    except NotFound:
        flash(request, "That session had already ended.", kind="error")
    else:
        flash(request, "That session is signed out.")
    return RedirectResponse("/account/sessions", status_code=303)


@router.post("/sessions/end-others", name="account.sessions_end_others")
def end_others(request: Request, engine: EngineDep, user: UserDep, actor: ActorDep) -> Response:
    """Sign out every session of the user but the one in this browser."""
    assert user.id is not None
    ended = web_sessions.end_all_for_user(
        engine,
        actor=actor,
        user_id=user.id,
        reason="signed out by user",
        keep=security.session_id(request),
    )
    flash(request, f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")
    return RedirectResponse("/account/sessions", status_code=303)
