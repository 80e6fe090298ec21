"""The OpenAPI document at /api/v1/openapi.json fuzzed by schemathesis on SQLite and PostgreSQL:
every operation, with a write token, bounded examples. No server error, and every response
matches what the document says (status code, content type, body schema, headers).

Not checked: that every schema-valid body is accepted (``positive_data_acceptance``): the schema
says a date is text, the services then refuse 2026-02-30 with a 422 naming the field, as the
forms do."""

import time
from typing import Any

import hypothesis
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from schemathesis.specs.openapi import checks as openapi_checks
from starlette.routing import Mount

from surveil.web.api.problems import PROBLEM_JSON
from tests.api.conftest import ApiWorld, audit_rows, bearer

EXAMPLES_PER_OPERATION = 20
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


def test_the_openapi_document_is_served_and_complete(api: TestClient) -> None:
    document = api.get("/api/v1/openapi.json").json()
    assert document["servers"] == [{"url": "/api/v1"}]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert "401" in operation["responses"], (method, path)
            assert PROBLEM_JSON in operation["responses"]["422"]["content"], (method, path)


def test_fuzzing_finds_no_server_error_and_no_broken_response(
    api: TestClient, api_world: ApiWorld, engine: sa.Engine
) -> None:
    (mounted,) = [r for r in api.app.routes if isinstance(r, Mount) and r.path == "/api/v1"]
    mounted.app.state.requests_per_minute = 100_000  # type: ignore[attr-defined]
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app)
    headers = bearer(api_world.tokens["write"])
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 25  # every method of every path
    # Once as generated (mostly unknown records), once aimed at records that exist, so that the
    # fuzzed bodies and queries reach the services' validation and writes.
    existing = {"mrn": "N-100", "item_id": api_world.items["done"], "trigger_id": api_world.trigger}
    for operation in operations:
        _fuzz(operation, headers, {})
        _fuzz(operation, headers, existing)
    assert time.monotonic() - started < 90
    reached = {row[0] for row in audit_rows(engine) if row[1:3] == ("nina", "api")}
    assert {"patient.viewed", "plan.viewed", "triggers.viewed"} <= reached, reached


def _fuzz(operation: Any, headers: dict[str, str], pinned: dict[str, Any]) -> None:
    @given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,  # the same examples every run: a red run can be replayed
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if case.path_parameters:
            case.path_parameters = {
                name: pinned.get(name, value) for name, value in case.path_parameters.items()
            }
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
