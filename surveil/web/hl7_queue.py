"""The unmatched HL7 queue for navigators (``/hl7/queue``): each message that could not be
applied, in words, with its reason; apply it (to a patient the navigator names, or as it now
matches) or dismiss it with a reason. A refused action shows the page again (422) with the
problem beside that message; nothing is written then."""

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from surveil.core.digits import is_digits
from surveil.errors import Conflict, InvalidInput, NotFound
from surveil.services.hl7.queue import QueuedMessage, apply_queued, dismiss, list_queue
from surveil.web.contexts import Frame
from surveil.web.deps import (
    ActorDep,
    EngineDep,
    SettingsDep,
    UserDep,
    clinic_today,
    flash,
    frame,
    render,
)

router = APIRouter()


@dataclass(frozen=True)
class QueuePage:
    frame: Frame
    entries: tuple[QueuedMessage, ...]
    problems: dict[int, tuple[str, ...]] = field(default_factory=dict)  # message id -> problems


@router.get("/hl7/queue", name="hl7.queue")
def queue_page(
    request: Request, engine: EngineDep, settings: SettingsDep, user: UserDep, actor: ActorDep
) -> Response:
    entries = tuple(list_queue(engine, actor=actor, authority=settings.hl7.identifier_authority))
    page = QueuePage(frame(request, user, section="hl7", settings=settings), entries)
    return render(request, "web/hl7/queue.html", page)


@router.post("/hl7/queue/{message_id}/apply", name="hl7.apply")
def apply_message(
    request: Request,
    message_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    patient_id: Annotated[str, Form(max_length=12)] = "",
    item_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    problems: list[str] = []
    patient, item = _id(patient_id, "patient_id", problems), _id(item_id, "item_id", problems)
    if not problems:
        try:
            words = apply_queued(
                engine,
                actor=actor,
                message_id=message_id,
                patient_id=patient,
                item_id=item,
                settings=settings,
                today=clinic_today(settings),
            )
        except InvalidInput as error:
            problems = [str(p) for p in error.problems]
        except (Conflict, NotFound) as error:
            problems = [str(error)]
        else:
            flash(request, words)
            return RedirectResponse("/hl7/queue", status_code=303)
    return _refused(request, engine, settings, user, actor, message_id, problems)


@router.post("/hl7/queue/{message_id}/dismiss", name="hl7.dismiss")
def dismiss_message(
    request: Request,
    message_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        words = dismiss(engine, actor=actor, message_id=message_id, reason=reason)
    except InvalidInput as error:
        problems = [str(p) for p in error.problems]
    except (Conflict, NotFound) as error:
        problems = [str(error)]
    else:
        flash(request, words)
        return RedirectResponse("/hl7/queue", status_code=303)
    return _refused(request, engine, settings, user, actor, message_id, problems)


def _id(text: str, name: str, problems: list[str]) -> int | None:
    """An optional id typed in the form; a problem named after its field when it is not one."""
    value = text.strip()
    if not value:
        return None
    if not is_digits(value) or len(value) > 12:
        problems.append(f"{name}: {text!r} is not an id")
        return None
    return int(value)


def _refused(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    message_id: int,
    problems: list[str],
) -> Response:
    entries = tuple(list_queue(engine, actor=actor, authority=settings.hl7.identifier_authority))
    page = QueuePage(
        frame(request, user, section="hl7", settings=settings),
        entries,
        {message_id: tuple(problems)},
    )
    return render(request, "web/hl7/queue.html", page, status_code=422)
