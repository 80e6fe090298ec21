"""``surveil token issue|list|revoke`` on both backends: the token is printed once, the list
shows when it was last used, a revoked token is refused."""

import datetime as dt
import json

import sqlalchemy as sa

from surveil.errors import SurveilError
from surveil.services.users import api_tokens
from tests.cli.acting import CLINIC, add_account
from tests.cli.conftest import Invoke

SHELL_COVERED = frozenset({"token issue", "token revoke"})
NOT_AUDITED = frozenset({"token list"})  # lists tokens, never a patient; no audit row needed


def test_issue_list_revoke(fresh_cli: Invoke, engine: sa.Engine) -> None:
    add_account(engine, "ada", role="admin", clinic=CLINIC)
    add_account(engine, "bridge", role="navigator", clinic=CLINIC)
    issued = fresh_cli("--as", "ada", "token", "issue", "--user", "bridge", "--scope", "read",
                       "--expires", "30", "--label", "EHR")  # fmt: skip
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[0]
    assert token.startswith("sv_") and "not shown again" in issued.stderr
    api_tokens.authenticate_api_token(engine, token=token, ip="", now=dt.datetime.now(dt.UTC))
    listed = fresh_cli("--as", "ada", "token", "list", "--json")
    (row,) = json.loads(listed.stdout)
    assert token not in listed.stdout
    assert (row["user"], row["scope"], row["label"]) == ("bridge", "read", "EHR")
    assert row["last_used_at"] is not None and row["revoked_at"] is None
    revoked = fresh_cli("--as", "ada", "token", "revoke", row["id"])
    assert revoked.exit_code == 0, revoked.output
    try:
        api_tokens.authenticate_api_token(engine, token=token, ip="", now=dt.datetime.now(dt.UTC))
    except SurveilError as error:
        assert "revoked" in str(error) or "missing" in str(error)
    else:
        raise AssertionError("a revoked token was accepted")
    table = fresh_cli("--as", "ada", "token", "list")
    assert "bridge" in table.output and "UTC" in table.output


def test_bad_options_are_named_and_nothing_is_issued(fresh_cli: Invoke, engine: sa.Engine) -> None:
    add_account(engine, "ada", role="admin", clinic=CLINIC)
    refused = fresh_cli("--as", "ada", "token", "issue", "--user", "ghost", "--scope", "write",
                        "--expires", "999")  # fmt: skip
    assert refused.exit_code == 2
    assert "expires" in refused.output
    assert fresh_cli("--as", "ada", "token", "list", "--json").stdout.strip() == "[]"
    nobody = fresh_cli("token", "list")
    assert nobody.exit_code == 2 and "--as" in nobody.output
