"""One way in (issue 12): every entry point, CLI command and web route that writes is covered.

Each area's tests exercise its service entry points (``COVERED``) and its shells
(``SHELL_COVERED``), asserting the audit rows each leaves; commands that touch no patient data are
listed in ``NOT_AUDITED`` with the reason. This test only checks that nothing escaped all of them:
a new entry point, CLI command or form route must be added to one of those tables, with its test.
"""

import importlib
from collections.abc import Iterator
from typing import Any

import click
from fastapi.routing import APIRoute

from surveil.cli import _register, cli
from surveil.config import Settings, WebSettings
from surveil.services import entry
from surveil.web.app import create_app

AREAS = (
    "tests.services.test_unmatched_replies",
    "tests.cli.test_replies_cli",
    "tests.web.test_unknown_senders_web",
    "tests.services.test_one_way_in_records",
    "tests.services.test_one_way_in_accounts",
    "tests.cli.test_one_way_in_records_shells",
    "tests.cli.test_one_way_in_accounts_shells",
    "tests.web.test_one_way_in_records_shells",
    "tests.web.test_one_way_in_accounts_shells",
    "tests.services.export.test_fhir_bundle",
    "tests.cli.test_export_cli",
    "tests.services.test_demo",
    "tests.cli.test_backup",
    "tests.cli.test_secret_cli",
    "tests.services.test_keeping",
    "tests.web.test_enrol_form",
    "tests.web.test_record_forms",
    "tests.services.test_second_factor",
    "tests.web.test_account_security",
    "tests.cli.test_second_factor_cli",
    "tests.services.test_one_way_in_care",
    "tests.web.test_result_forms",
    "tests.cli.test_recordkeeping_cli",
    "tests.services.test_one_way_in_item_life",
    "tests.cli.test_item_cli",
    "tests.web.test_item_life_shells",
    "tests.services.test_trigger_decisions",
    "tests.cli.test_trigger_decisions_cli",
    "tests.web.test_trigger_decisions_web",
    "tests.services.test_merge",
    "tests.cli.test_merge_cli",
    "tests.web.test_merge_web",
    "tests.services.test_web_sessions",
    "tests.web.test_web_sessions",
    "tests.cli.test_schedules_rollout",
    "tests.services.test_api_tokens",
    "tests.cli.test_token_cli",
    "tests.api.test_api_routes",
    "tests.services.test_csv_import",
    "tests.web.test_import_page",
    "tests.services.test_merge_purge",
    "tests.cli.test_merge_purge_cli",
    "tests.cli.test_item_reasons_cli",
    "tests.web.test_merge_purge_web",
    "tests.services.test_reminder_hours",
    "tests.services.test_message_history",
    "tests.cli.test_reminder_hours_cli",
    "tests.hl7.test_queue_and_cli",
    "tests.web.test_hl7_queue_page",
    "tests.services.reports.test_worklist_as_of",
    "tests.web.reports.test_worklist_as_of_web",
    "tests.services.reports.test_capacity",
    "tests.services.reports.test_quality",
    "tests.services.reports.test_letters",
    "tests.services.test_replies",
    "tests.web.test_replies_web",
    "tests.daemon.test_protocol_applied",
)
# Every module that defines an entry point, imported so that its marks are registered.
SERVICE_PACKAGES = ("surveil.services",)


def _union(name: str) -> set[str]:
    found: set[str] = set()
    for area in AREAS:
        found |= set(getattr(importlib.import_module(area), name, ()))
    return found


def _import_all_services() -> None:
    import pkgutil

    for package_name in SERVICE_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)


def _commands(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Routes, including those of included routers (FastAPI keeps them behind a wrapper) and
    of mounted applications (the JSON API)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        mounted = getattr(getattr(route, "app", None), "routes", None)  # /api/v1 is mounted
        if inner is not None:
            yield from _routes(inner.routes)
        elif mounted is not None:
            yield from _routes(mounted)
        else:
            yield route


def test_every_service_entry_point_is_exercised_with_its_audit_rows() -> None:
    _import_all_services()
    missing = set(entry.ENTRY_POINTS) - _union("COVERED")
    assert not missing, f"entry points without a one-way-in test: {sorted(missing)}"
    stale = _union("COVERED") - set(entry.ENTRY_POINTS)
    assert not stale, f"COVERED names no entry point: {sorted(stale)}"


def test_every_cli_command_is_walked_or_classified() -> None:
    _register()
    known = _union("SHELL_COVERED") | _union("NOT_AUDITED")
    missing = set(_commands(cli)) - known
    assert not missing, f"CLI commands neither walked nor classified: {sorted(missing)}"


def test_every_form_route_is_walked() -> None:
    app = create_app(Settings(web=WebSettings(secret_key="one-way-in-" + "k" * 32)))
    posts = {
        route.name
        for route in _routes(app.routes)
        if isinstance(route, APIRoute) and route.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
    known = _union("SHELL_COVERED") | _union("NOT_AUDITED")
    missing = posts - known
    assert not missing, f"routes that write, not walked: {sorted(missing)}"
