"""docs/protocols.md lists every rule of every shipped pack by site with its source, and says the
same as the packs: the generated part equals what scripts/protocols_doc.py makes of them."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from surveil.schedules import load_pack_versions

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "protocols_doc", ROOT / "scripts" / "protocols_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("protocols_doc", module)
    spec.loader.exec_module(module)
    return module


def test_the_document_matches_the_packs(generator: ModuleType) -> None:
    current = (ROOT / "docs" / "protocols.md").read_text(encoding="utf-8")
    assert generator.MARKER in current, "run: python scripts/protocols_doc.py --write"
    assert current == generator.document(current), "run: python scripts/protocols_doc.py --write"


def test_every_rule_appears_with_its_source(generator: ModuleType) -> None:
    text = generator.render()
    for versions in load_pack_versions().values():
        for pack in versions.values():
            assert f"### {pack.id} {pack.version}" in text
            for rule in pack.profile().rules:
                assert f"`{rule.id}`" in text
                assert f"({rule.source}) [{rule.evidence.value}]" in text


def test_a_changed_pack_makes_the_document_stale(generator: ModuleType) -> None:
    current = (ROOT / "docs" / "protocols.md").read_text(encoding="utf-8")
    head, generated = current.split(generator.MARKER, 1)
    edited = (
        head + generator.MARKER + generated.replace("every 6–12 months", "every 6–13 months", 1)
    )
    assert edited != current and generator.document(edited) != edited
