"""docs/facts.schema.json says what the facts parser accepts: every case below is valid under the
schema exactly when the parser accepts it (rules beyond a schema aside: dates after today, before
birth or after death, which the parser refuses and the schema cannot express)."""

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from surveil.core.facts import facts_to_json, parse_facts
from surveil.core.vocab import ItemKind, Site
from surveil.errors import InvalidInput
from tests.protocols.test_facts_2027 import BASE, TODAY

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent.parent / "docs" / "facts.schema.json").read_text(
        encoding="utf-8"
    )
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _set(path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    table = raw
    for part in parents:
        table = table[part]
    table[last] = value
    return raw


FULL = {
    **BASE,
    "tumour": {
        "site": "stomach",
        "differentiation": "well",
        "ki67": 2.5,
        "mitoses": 1,
        "stage": "regional",
        "functional": "none",
        "sstr": "positive",
        "diagnosed_on": "2025-01-10",
        "size_mm": 12,
        "node_status": "N0",
        "adverse_histology": [],
        "carcinoid_type": None,
        "gastric_type": "type_1",
        "carcinoid_heart_disease": False,
    },
    "measurements": [{"lesion": "L1", "date": "2026-01-02", "mm": 12.5, "modality": "ct"}],
    "markers": [{"name": "cga", "date": "2026-01-02", "value": 90, "uln": 100, "on_ppi": True}],
    "therapies": [{"kind": "ssa", "started_on": "2025-03-01", "last_given_on": "2026-05-01"}],
    "completed": [{"kind": "endoscopy", "date": "2026-01-02", "region": "stomach"}],
    "symptoms": [{"date": "2026-02-01", "description": "flushing"}],
    "pathology": [{"date": "2026-02-01", "ki67": 4, "differentiation": "well"}],
}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("the base facts", BASE),
    ("every field, with the 2027.1 facts", FULL),
    ("a null tumour", {**BASE, "tumour": None}),
    ("an unknown top-level field", {**BASE, "colour": "blue"}),
    ("version 2", {**BASE, "version": 2}),
    ("node status N2", _set("tumour.node_status", "N2")),
    ("adverse histology as text", _set("tumour.adverse_histology", "lvi")),
    ("adverse histology unknown word", _set("tumour.adverse_histology", ["perineural"])),
    ("carcinoid type atypical", _set("tumour.carcinoid_type", "atypical")),
    ("gastric type as a number", _set("tumour.gastric_type", 1)),
    ("carcinoid heart disease as text", _set("tumour.carcinoid_heart_disease", "yes")),
    ("Ki-67 above 100", _set("tumour.ki67", 101)),
    ("Ki-67 as text", _set("tumour.ki67", "2")),
    ("size zero", _set("tumour.size_mm", 0)),
    ("size 1e12", _set("tumour.size_mm", 1e12)),
    ("size just below 1e12", _set("tumour.size_mm", 999_999_999_999)),
    ("an unknown site", _set("tumour.site", "liver")),
    ("stage null", _set("tumour.stage", None)),
    ("resection R3", _set("state.resection", "R3")),
    ("a state without since", {**BASE, "state": {"kind": "resected"}}),
    (
        "a marker that is not a marker",
        {**BASE, "markers": [{"name": "mri", "date": "2026-01-01", "value": 1}]},
    ),
    (
        "cycles given -1",
        {**BASE, "therapies": [{"kind": "prrt", "started_on": "2026-01-01", "cycles_given": -1}]},
    ),
    ("an unknown hereditary syndrome", _set("patient.hereditary", "MEN2")),
]


def _parser_accepts(raw: Any) -> bool:
    try:
        parse_facts(raw, today=TODAY)
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize(("name", "raw"), CASES, ids=[c[0] for c in CASES])
def test_the_schema_and_the_parser_agree(name: str, raw: dict[str, Any]) -> None:
    valid = VALIDATOR.is_valid(raw)
    assert valid == _parser_accepts(raw), (name, [e.message for e in VALIDATOR.iter_errors(raw)])


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_what_the_parser_writes_back_is_valid() -> None:
    facts = parse_facts(FULL, today=TODAY)
    VALIDATOR.validate(facts_to_json(facts))


def test_the_vocabularies_are_the_parsers() -> None:
    tumour = SCHEMA["properties"]["tumour"]["properties"]
    assert tumour["site"]["enum"] == [s.value for s in Site]
    assert SCHEMA["$defs"]["itemKind"]["enum"] == [k.value for k in ItemKind]
