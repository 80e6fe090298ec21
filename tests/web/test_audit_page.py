"""The audit log's filters filter: by MRN, by patient id, and never silently not at all."""

import re

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import World, login


def patients_shown(html: str) -> set[str]:
    table = html[html.index('<table class="rows compact audit">') :]
    return set(re.findall(r'<a href="/patients/\d+">(MRN [^<]+)</a>', table))


def test_the_admin_filters_the_log_by_mrn(client: TestClient, world: World) -> None:
    login(client, "nina")
    client.get(f"/patients/{world.north_patient}")
    client.get(f"/patients/{world.growth_patient}")
    client.cookies.clear()  # a new session
    login(client, "ada")
    everything = client.get("/admin/audit").text
    assert patients_shown(everything) == {"MRN N-100", "MRN N-101"}
    by_mrn = client.get("/admin/audit?mrn=N-101").text
    assert patients_shown(by_mrn) == {"MRN N-101"}
    assert re.search(r"<p class=\"subtitle\">1 events", by_mrn)
    nobody = client.get("/admin/audit?mrn=NOPE-1").text
    assert patients_shown(nobody) == set() and "No events match." in nobody
    by_id = client.get(f"/admin/audit?patient={world.north_patient}").text
    assert patients_shown(by_id) == {"MRN N-100"}


@pytest.mark.usefixtures("world")
def test_a_patient_filter_that_is_not_an_id_is_refused_not_ignored(client: TestClient) -> None:
    login(client, "ada")
    refused = client.get("/admin/audit?patient=N-100")
    assert refused.status_code == 422 and "patient: " in refused.text
    assert "<table" not in refused.text
