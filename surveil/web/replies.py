"""Patients' replies to reminders (issue 18 point 3): the SMS provider's inbound webhook and the
pages of the links in reminder e-mails. Neither has a login or a session.

* ``POST /hooks/sms/inbound``: JSON ``{"id": provider message id, "from": "+44…", "text": …}``,
  signed ``X-Surveil-Signature: sha256=<HMAC-SHA256(secret, timestamp + "." + body)>`` with
  ``X-Surveil-Timestamp`` (Unix seconds). A bad or stale signature is 401 and nothing is
  recorded; a message id seen before is answered 200 ``duplicate`` and changes nothing (so a
  provider that retries after a lost answer stops, and a replay does nothing).
* ``GET /r/<token>``: a page with buttons; changes nothing (mail scanners open every link).
  ``POST /r/<token>`` acts: ``action=confirm|call_me|stop`` from the page's buttons, or
  ``List-Unsubscribe=One-Click`` from a mail client (RFC 8058), which stops e-mail at once.

Plain Starlette routes, put first like the calendar feed: the app-wide CSRF check does not
apply (the token in the URL, or the provider's signature, is the credential; there is no
session to ride on). They never log the token or the body, and answer with no-referrer, noindex
and no-store headers.
"""

import dataclasses
import datetime as dt
import json
import logging
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from surveil.config import Settings
from surveil.core.replies import BadSignature, Reply, verify_webhook
from surveil.errors import InvalidInput
from surveil.services.reminders.links import LinkPage, act_on_link, open_link
from surveil.services.reminders.replies import mark_reply_handled, receive_sms
from surveil.services.reminders.sending import environment
from surveil.services.reminders.unmatched_replies import dismiss_reply, match_reply
from surveil.web.deps import ReaderActorDep, flash, get_engine
from surveil.web.security import safe_next

log = logging.getLogger(__name__)
router = APIRouter()  # the navigators' side: a reply handled from the worklist
MAX_BODY = 16_384  # an inbound text is a few hundred bytes
_PRIVATE = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def sms_inbound(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        verify_webhook(
            settings.sms.inbound_secret.encode(),
            timestamp=request.headers.get("x-surveil-timestamp"),
            signature=request.headers.get("x-surveil-signature"),
            body=body,
            now=_now(),
            window=dt.timedelta(seconds=settings.sms.inbound_window_seconds),
        )
    except BadSignature as refused:
        log.warning("inbound SMS refused: %s", refused)
        return JSONResponse({"error": "signature refused"}, status_code=401)
    fields = _fields(body)
    if fields is None:
        return JSONResponse({"error": "expected JSON with id, from and text"}, status_code=422)
    try:
        outcome = await run_in_threadpool(
            receive_sms, request.app.state.engine, now=_now(), **fields
        )
    except InvalidInput as error:
        problems = [{"field": p.field, "message": p.message} for p in error.problems]
        return JSONResponse({"error": "invalid", "problems": problems}, status_code=422)
    return JSONResponse({"status": outcome.status, "kind": outcome.kind.value})


def _fields(body: bytes) -> dict[str, str] | None:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    values = {"message_id": data.get("id"), "sender": data.get("from"), "text": data.get("text")}
    if not all(isinstance(v, str) for v in values.values()):
        return None
    return values  # type: ignore[return-value]  # every value checked to be a str


async def link_page(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    token = request.path_params["token"]
    engine = request.app.state.engine
    try:
        if request.method == "POST":
            form = await request.form()
            one_click = form.get("List-Unsubscribe") == "One-Click"
            action = Reply.STOP.value if one_click else str(form.get("action", ""))
            try:
                outcome = await run_in_threadpool(
                    act_on_link, engine, settings, token=token, action=action, now=_now()
                )
            except InvalidInput:
                page = await run_in_threadpool(open_link, engine, settings, token, _now())
                return _render(settings, page, status=404 if page.state == "invalid" else 422)
            page = await run_in_threadpool(open_link, engine, settings, token, _now())
            if outcome.status == "applied":
                page = dataclasses.replace(page, state="done")
            return _render(settings, page)
        page = await run_in_threadpool(open_link, engine, settings, token, _now())
        return _render(settings, page, status=404 if page.state == "invalid" else 200)
    except Exception:
        # Not the app's error pages: those log the request path, which holds the token.
        log.exception("reply link request failed")
        return Response("Not available right now.\n", status_code=500, headers=_PRIVATE)


def _render(settings: Settings, page: LinkPage, status: int = 200) -> Response:
    env = environment(settings.paths.templates, page.language)  # compiled once per language
    context = {**page.__dict__, "purpose": page.purpose.value}
    html = env.get_template("replies/page.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=_PRIVATE)


ROUTES = (
    Route("/hooks/sms/inbound", sms_inbound, methods=["POST"], include_in_schema=False),
    Route("/r/{token}", link_page, methods=["GET", "POST"], include_in_schema=False),
)


Text = Annotated[str, Form(max_length=500)]
EngineDep = Annotated[sa.Engine, Depends(get_engine)]


@router.post("/replies/{reply_id}/handled", name="replies.handled")
def handled(
    request: Request, reply_id: int, engine: EngineDep, actor: ReaderActorDep,
    note: Text = "", next: Text = "",
) -> Response:  # fmt: skip
    """A navigator dealt with a patient's reply (called back, rebooked, noted the STOP)."""
    try:
        mark_reply_handled(engine, actor=actor, reply_id=reply_id, note=note)
    except InvalidInput as error:
        return _nothing_changed(request, error, next)
    flash(request, "Reply marked handled.")
    return _back(next)


Mrn = Annotated[str, Form(max_length=64)]


@router.post("/replies/{reply_id}/match", name="replies.match")
def match(
    request: Request, reply_id: int, engine: EngineDep, actor: ReaderActorDep,
    mrn: Mrn = "", next: Text = "",
) -> Response:  # fmt: skip
    """A navigator says whose a text from an unknown number is; it then takes its effect."""
    try:
        patient_id = match_reply(engine, actor=actor, reply_id=reply_id, mrn=mrn, now=_now())
    except InvalidInput as error:  # an unknown patient or reply is the app's 404, audited
        return _nothing_changed(request, error, next)
    flash(request, "Reply matched to the patient.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/replies/{reply_id}/dismiss", name="replies.dismiss")
def dismiss(
    request: Request, reply_id: int, engine: EngineDep, actor: ReaderActorDep,
    note: Text = "", next: Text = "",
) -> Response:  # fmt: skip
    """A text from an unknown number nobody needs to act on (a wrong number), with why."""
    try:
        dismiss_reply(engine, actor=actor, reply_id=reply_id, note=note, now=_now())
    except InvalidInput as error:  # an unknown patient or reply is the app's 404, audited
        return _nothing_changed(request, error, next)
    flash(request, "Reply dismissed.")
    return _back(next)


def _nothing_changed(request: Request, error: InvalidInput, next_url: str) -> Response:
    """The form's problems, each naming its field, shown back on the page it came from."""
    flash(request, "Nothing was changed.", kind="error", problems=[str(p) for p in error.problems])
    return _back(next_url)


def _back(next_url: str) -> Response:
    return RedirectResponse(safe_next(next_url, "/worklist"), status_code=303)
