"""Making a merge final from the merged record's page (both backends): only an administrator
(a navigator's post is refused, 403, nothing written); audited; the undo is refused after it
with the reason shown, and nothing changes."""

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from surveil.db import models as m
from tests.web.conftest import World, csrf_of
from tests.web.test_merge_web import ada, web_settings
from tests.web.test_one_way_in_records_shells import Audit

SHELL_COVERED: frozenset[str] = frozenset({"patients.purge_merge"})
NOT_AUDITED: dict[str, str] = {}
__all__ = ["ada", "web_settings"]  # the fixtures, shared with the merge form's tests


def _post(client: TestClient, path: str, form: dict[str, str]) -> tuple[int, str]:
    token = csrf_of(client, "/worklist")
    response = client.post(path, data={"csrf_token": token, **form})
    return response.status_code, response.text


def test_an_admin_makes_a_merge_final_and_it_cannot_be_undone(
    nina: TestClient, ada: TestClient, world: World, web_engine: sa.Engine
) -> None:
    keep, gone = world.north_patient, world.growth_patient
    merge = {"clinic": "north", "keep": "N-100", "gone": "N-101", "reason": "same person"}
    assert _post(ada, "/patients/merge", merge)[0] == 200
    assert 'action="/patients/purge-merge"' in ada.get(f"/patients/{gone}").text
    audit = Audit(web_engine)
    audit.new()
    before = audit.record()

    final = {"clinic": "north", "gone": "N-101", "reason": "checked with records"}
    assert _post(nina, "/patients/purge-merge", final)[0] == 403
    assert audit.new() == [] and audit.record() == before

    status, page = _post(ada, "/patients/purge-merge", final)
    assert status == 200 and "can no longer be unmerged" in page
    rows = [(r.action, r.actor, r.patient_id) for r in audit.new()]
    assert rows[0] == ("patient.merge_purged", "ada", keep)  # then the page it lands on
    assert [a for a, *_ in rows[1:]] == ["patient.viewed"]

    status, page = _post(ada, "/patients/unmerge", {"clinic": "north", "gone": "N-101"})
    assert "cannot be undone" in page
    assert audit.new() == []
    with Session(web_engine) as session:
        row = session.exec(select(m.PatientMerge)).one()
    assert (row.purged_by, row.unmerged_at) == ("ada", None)  # still merged, for good
