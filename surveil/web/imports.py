"""The upload page for CSV imports (administrators and navigators): check a file (a preview of
what it would change, or every problem of every row), then import it as one batch. The page
only parses the upload and shows the answer of ``services.imports.batch.import_csv``."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from surveil.db import models as m
from surveil.errors import InvalidInput, PermissionDenied
from surveil.services.imports.batch import ImportReport, import_csv
from surveil.services.imports.csvfile import KINDS, MAX_BYTES
from surveil.web.contexts import Frame
from surveil.web.deps import ActorDep, EngineDep, SettingsDep, UserDep, clinic_today, frame, render

router = APIRouter()

IMPORTERS = {m.Role.ADMIN.value, m.Role.NAVIGATOR.value}


@dataclass(frozen=True)
class ImportPage:
    frame: Frame
    kinds: tuple[str, ...]
    kind: str = ""
    date_format: str = ""
    filename: str = ""
    report: ImportReport | None = None
    problems: tuple[str, ...] = ()


def _require_importer(user: m.User) -> None:
    if user.role not in IMPORTERS:
        raise PermissionDenied("Only administrators and navigators import files.")


@router.get("/import", name="imports.page")
def import_page(request: Request, settings: SettingsDep, user: UserDep) -> Response:
    _require_importer(user)
    page = ImportPage(
        frame=frame(request, user, section="import", settings=settings),
        kinds=KINDS,
        date_format=settings.interop.import_date_format,
    )
    return render(request, "web/imports/upload.html", page)


@router.post("/import", name="imports.upload")
async def upload(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: UserDep,
    actor: ActorDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=16)] = "",
    date_format: Annotated[str, Form(max_length=32)] = "",
    action: Annotated[str, Form(max_length=16)] = "preview",
) -> Response:
    """``action=preview`` checks and rolls back; ``action=commit`` imports."""
    _require_importer(user)
    content = await file.read(MAX_BYTES + 1)
    filename = (file.filename or "")[:200]
    base = frame(request, user, section="import", settings=settings)
    try:
        report = import_csv(
            engine,
            actor=actor,
            kind=kind,
            content=content,
            filename=filename,
            clinic=user.clinic,
            dry_run=action != "commit",
            settings=settings,
            today=clinic_today(settings),
            date_format=date_format or None,
        )
    except InvalidInput as error:
        page = ImportPage(
            frame=base,
            kinds=KINDS,
            kind=kind,
            date_format=date_format,
            filename=filename,
            problems=tuple(str(p) for p in error.problems),
        )
        return render(request, "web/imports/upload.html", page, status_code=422)
    page = ImportPage(
        frame=base,
        kinds=KINDS,
        kind=kind,
        date_format=date_format,
        filename=filename,
        report=report,
    )
    return render(request, "web/imports/upload.html", page)
