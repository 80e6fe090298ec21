"""Every /api/v1 route on SQLite and PostgreSQL: refused without a token, with a revoked or
expired one, with a session cookie alone, with a read-only token where it writes; another
clinic's records are 404; with a good token it calls its entry point and leaves that entry
point's audit rows on channel ``api``. A refused write leaves neither data nor audit."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount

from surveil.web.api.problems import PROBLEM_JSON
from tests.api.conftest import ApiWorld, audit_rows, bearer
from tests.web.conftest import csrf_of
from tests.web.seed import PASSWORD

Body = Callable[[ApiWorld], dict[str, Any] | None]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # formatted with the world's items (item), trigger and the north MRN
    body: Body
    status: int
    action: str  # the audit action the route's entry point records
    names_a_record: bool = True  # another clinic's token gets 404 (else: its own clinic's list)
    by: str = "nina"  # who acts: the navigator, or "dora" (a clinician) for clinical decisions

    def url(self, world: ApiWorld, item: str | None = None) -> str:
        purpose = item or self.name.removeprefix("api.item_")
        return "/api/v1" + self.path.format(
            item=world.items.get(purpose, 0), trigger=world.trigger, mrn="N-100"
        )


def _none(_world: ApiWorld) -> None:
    return None


def _later(days: int) -> Body:
    return lambda world: {"date": str(world.today + dt.timedelta(days=days)), "time": "09:30"}


NEW_PATIENT = {
    "mrn": "N-300", "given_name": "Lin", "family_name": "Cho", "birth_date": "1970-05-01",
    "tumour": {"site": "pancreas", "ki67": 2, "size_mm": 12, "diagnosed_on": "2025-03-02"},
    "state": "active_surveillance", "since": "2025-03-02",
}  # fmt: skip

CASES = (
    Case("api.patients", "GET", "/patients?q=okafor", _none, 200, "patients.viewed", False),
    Case("api.patient_enrol", "POST", "/patients", lambda _w: NEW_PATIENT, 201,
         "patient.enrolled", False),
    Case("api.patient", "GET", "/patients/{mrn}", _none, 200, "patient.viewed"),
    Case("api.patient_update", "PATCH", "/patients/{mrn}", lambda _w: {"phone": "+44 20 7946 0000"},
         200, "patient.updated"),
    Case("api.tumour_update", "PUT", "/patients/{mrn}/tumour",
         lambda _w: {"ki67": 2.5, "size_mm": 14}, 200, "tumour.updated"),
    Case("api.state_set", "POST", "/patients/{mrn}/states",
         lambda w: {"kind": "resected", "since": str(w.today), "resection": "R0",
                    "reason": "Whipple"}, 201, "state.set"),
    Case("api.measurement_add", "POST", "/patients/{mrn}/measurements",
         lambda w: {"lesion": "L1", "date": str(w.today), "diameter_mm": 11, "modality": "mri"},
         201, "measurement.recorded"),
    Case("api.marker_add", "POST", "/patients/{mrn}/markers",
         lambda w: {"name": "cga", "value": 80, "date": str(w.today), "unit": "ng/mL",
                    "uln": 100}, 201, "marker.recorded"),
    Case("api.therapy_add", "POST", "/patients/{mrn}/therapies",
         lambda w: {"kind": "ssa", "started_on": str(w.today), "agent": "lanreotide"},
         201, "therapy.recorded"),
    Case("api.measurements", "GET", "/patients/{mrn}/measurements", _none, 200,
         "results.viewed"),
    Case("api.markers", "GET", "/patients/{mrn}/markers", _none, 200, "results.viewed"),
    Case("api.therapies", "GET", "/patients/{mrn}/therapies", _none, 200, "results.viewed"),
    Case("api.messages", "GET", "/patients/{mrn}/messages", _none, 200, "messages.viewed"),
    Case("api.plan", "GET", "/patients/{mrn}/plan?open_only=false", _none, 200, "plan.viewed"),
    Case("api.patient_triggers", "GET", "/patients/{mrn}/triggers", _none, 200,
         "triggers.viewed"),
    Case("api.triggers", "GET", "/triggers", _none, 200, "triggers.viewed", False),
    Case("api.worklist", "GET", "/worklist", _none, 200, "worklist.exported", False),
    Case("api.item_ordered", "POST", "/items/{item}/ordered", lambda _w: {"note": "sent"}, 200,
         "item.ordered"),
    Case("api.item_booked", "POST", "/items/{item}/booked", _later(7), 200, "item.booked"),
    Case("api.item_done", "POST", "/items/{item}/done",
         lambda _w: {"lesion": "L1", "diameter_mm": 12, "modality": "mri"}, 200, "item.done"),
    Case("api.item_declined", "POST", "/items/{item}/declined", lambda _w: {"reason": "travel"},
         200, "item.declined"),
    Case("api.item_not_needed", "POST", "/items/{item}/not-needed",
         lambda _w: {"reason": "done elsewhere"}, 200, "item.not_needed"),
    Case("api.item_snooze", "POST", "/items/{item}/snooze",
         lambda w: {"until": str(w.today + dt.timedelta(days=7)), "reason": "on holiday"},
         200, "item.snoozed"),
    Case("api.trigger_ack", "POST", "/triggers/{trigger}/acknowledge", _none, 200,
         "trigger.acknowledged"),
    Case("api.trigger_resolve", "POST", "/triggers/{trigger}/resolve",
         lambda _w: {"outcome": "tumour board: continue surveillance"}, 200, "trigger.resolved",
         by="dora"),
)  # fmt: skip
WRITES = {case.name for case in CASES if case.method != "GET"}
SHELL_COVERED = frozenset(WRITES)
# The one entry point only the API calls; the others are walked by their own areas' tests.
COVERED = frozenset(
    {
        "surveil.services.planning.stored_plan.read_stored_plan",
        "surveil.services.registry.result_lists.read_results",
    }
)


def api_route_names(app: Any) -> set[str]:
    (mount,) = [r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1"]
    return {r.name for r in _unwrapped(mount.app.routes) if isinstance(r, APIRoute)}


def _unwrapped(routes: list[Any]) -> list[Any]:
    """Routes of included routers too (FastAPI keeps them behind a wrapper)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += _unwrapped(inner.routes) if inner is not None else [route]
    return found


def test_every_api_route_has_a_case(api: TestClient) -> None:
    assert api_route_names(api.app) == {case.name for case in CASES}


def _send(api: TestClient, case: Case, world: ApiWorld, **kwargs: Any) -> Any:
    return api.request(case.method, case.url(world), json=case.body(world), **kwargs)


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    return body


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_route_auth_isolation_and_audit(
    case: Case, api: TestClient, api_world: ApiWorld, engine: sa.Engine
) -> None:
    before = audit_rows(engine)
    _problem(_send(api, case, api_world), 401)
    assert _send(api, case, api_world).headers["www-authenticate"].startswith("Bearer")
    for kind in ("revoked", "expired"):
        _problem(_send(api, case, api_world, headers=bearer(api_world.tokens[kind])), 401)
    _problem(_send(api, case, api_world, headers={"Authorization": "Basic bmluYTpw"}), 401)
    refused = [row for row in audit_rows(engine)[len(before) :]]
    assert {row[0] for row in refused} == {"api_token.refused"}
    assert all(row[2] == "api" for row in refused)
    baseline = audit_rows(engine)
    if case.method != "GET":
        body = _problem(_send(api, case, api_world, headers=bearer(api_world.tokens["read"])), 403)
        assert "only read" in body["detail"]
    south = _send(api, case, api_world, headers=bearer(api_world.tokens["south"]))
    if case.names_a_record:
        _problem(south, 404)
        assert audit_rows(engine) == baseline  # a refusal leaves neither data nor audit
    else:
        assert south.status_code == case.status, south.text
        assert "N-100" not in south.text and "Okafor" not in south.text
    start = len(audit_rows(engine))
    if case.by != "nina":  # a navigator may not take a clinician's decision
        _problem(_send(api, case, api_world, headers=bearer(api_world.tokens["write"])), 403)
    token = api_world.tokens["write" if case.by == "nina" else "clinician"]
    start = len(audit_rows(engine))
    good = _send(api, case, api_world, headers=bearer(token))
    assert good.status_code == case.status, good.text
    assert good.headers["content-type"] == "application/json"
    assert good.headers["cache-control"] == "no-store"
    mine = [row for row in audit_rows(engine)[start:] if row[1] == case.by]
    assert (case.action, case.by, "api") in [row[:3] for row in mine], mine
    assert {row[2] for row in mine} == {"api"}


def test_a_session_cookie_opens_nothing(
    api: TestClient, api_world: ApiWorld, engine: sa.Engine
) -> None:
    token = csrf_of(api)
    signed_in = api.post(
        "/login", data={"username": "nina", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert signed_in.status_code == 303
    assert api.get("/worklist").status_code == 200  # the cookie works on the web...
    _problem(api.get("/api/v1/patients/N-100"), 401)  # ...and not on the API
    item = api_world.items["ordered"]
    _problem(api.post(f"/api/v1/items/{item}/ordered", json={}), 401)
    assert "item.ordered" not in [row[0] for row in audit_rows(engine)]


def test_bad_input_names_every_field_and_writes_nothing(
    api: TestClient, api_world: ApiWorld, engine: sa.Engine
) -> None:
    headers = bearer(api_world.tokens["write"])
    before = audit_rows(engine)
    wrong = {"mrn": "N-301", "given_name": "", "birth_date": "1970-13-40",
             "tumour": {"site": "liver?", "ki67": "lots"}, "state": "asleep"}  # fmt: skip
    body = _problem(api.post("/api/v1/patients", json=wrong, headers=headers), 422)
    fields = {error["field"] for error in body["errors"]}
    assert {"given_name", "family_name", "birth_date", "site", "ki67"} <= fields, fields
    shape = _problem(
        api.post("/api/v1/patients", json={"mrn": 5, "nickname": "x"}, headers=headers), 422
    )
    assert {e["field"] for e in shape["errors"]} == {"body.mrn", "body.nickname"}
    nul = _problem(
        api.patch("/api/v1/patients/N-100", json={"phone": "0\x00"}, headers=headers), 422
    )
    assert nul["errors"][0]["field"] == "body.phone" and "\x00" not in str(nul)
    snooze = api.post(
        f"/api/v1/items/{api_world.items['snooze']}/snooze",
        json={"until": str(api_world.today), "reason": ""},
        headers=headers,
    )
    assert {e["field"] for e in _problem(snooze, 422)["errors"]} == {"until", "reason"}
    too_big = {"lesion": "L1", "date": str(api_world.today), "diameter_mm": 900, "modality": "mri"}
    big = api.post("/api/v1/patients/N-100/measurements", json=too_big, headers=headers)
    assert _problem(big, 422)["errors"] == [
        {"field": "diameter_mm", "message": "900 must be at most 500"}
    ]  # an upper bound alone once made the check itself fail (a 500)
    _problem(api.get("/api/v1/patients?cursor=bm9wZQ", headers=headers), 422)
    _problem(api.get("/api/v1/items/1/ordered", headers=headers), 405)
    _problem(api.post("/api/v1/items/99999999999/ordered", json={}, headers=headers), 422)
    twice = f"/api/v1/triggers/{api_world.trigger}/resolve"
    dora = bearer(api_world.tokens["clinician"])
    assert api.post(twice, json={"outcome": "board"}, headers=dora).status_code == 200
    _problem(api.post(twice, json={"outcome": "board"}, headers=dora), 409)
    changes = [row for row in audit_rows(engine)[len(before) :] if row[0] != "trigger.resolved"]
    assert changes == []


def test_pages_follow_the_cursor(api: TestClient, api_world: ApiWorld) -> None:
    headers = bearer(api_world.tokens["write"])
    for n in range(4):
        patient = {**NEW_PATIENT, "mrn": f"N-40{n}", "family_name": f"Cho{n}"}
        assert api.post("/api/v1/patients", json=patient, headers=headers).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/patients", params=query, headers=headers).json()
        seen += [p["mrn"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["N-100", "N-400", "N-401", "N-402", "N-403"]
    plan = api.get("/api/v1/patients/N-100/plan?limit=4&open_only=false", headers=headers).json()
    assert len(plan["items"]) == 4 and plan["next_cursor"]
    rest = api.get(f"/api/v1/patients/N-100/plan?limit=4&open_only=false&cursor="
                   f"{plan['next_cursor']}", headers=headers).json()  # fmt: skip
    first = plan["items"][0]
    assert {"earliest", "target", "latest", "status", "why"} <= first.keys()
    assert not {i["id"] for i in plan["items"]} & {i["id"] for i in rest["items"]}


def test_the_rate_limit_answers_429_with_retry_after(api: TestClient, api_world: ApiWorld) -> None:
    (mounted,) = [r for r in api.app.routes if isinstance(r, Mount) and r.path == "/api/v1"]
    mounted.app.state.requests_per_minute = 2  # type: ignore[attr-defined]
    headers = bearer(api_world.tokens["read"])
    assert [api.get("/api/v1/triggers", headers=headers).status_code for _ in range(2)] == [
        200,
        200,
    ]
    limited = api.get("/api/v1/triggers", headers=headers)
    _problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 61
