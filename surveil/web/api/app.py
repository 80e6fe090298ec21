"""``create_api(parent)``: the JSON API as a FastAPI application, mounted at ``/api/v1`` by the
web app (whose engine and settings it shares). Its OpenAPI document is ``/api/v1/openapi.json``."""

from fastapi import Depends, FastAPI

from surveil import __version__
from surveil.web.api import patients, problems, work
from surveil.web.api.deps import DEFAULT_REQUESTS_PER_MINUTE, refuse_control_characters

PREFIX = "/api/v1"


def create_api(
    parent: FastAPI, *, requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
) -> FastAPI:
    api = FastAPI(
        title="surveil API",
        version=__version__,
        summary="Follow-up plans of neuroendocrine-tumour patients, for the hospital's systems.",
        description=(
            "Authenticate with `Authorization: Bearer TOKEN` (`surveil token issue`). A `read` "
            "token reads; a `write` token may also change records, through the same checks, "
            "re-planning and audit as the web. Errors are RFC 9457 problem details naming each "
            "field. Lists are paged by cursor. See docs/api.md."
        ),
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_control_characters)],
    )
    api.state.parent = parent
    api.state.requests_per_minute = requests_per_minute
    api.include_router(patients.router)
    api.include_router(work.router)
    problems.install(api)
    return api
