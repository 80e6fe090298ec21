"""The docs tell the truth: README.md's shell examples run, and every command's --help has an
example whose command and options exist.

README's fenced ``sh`` blocks are run in order, as a newcomer would type them, against a new
SQLite database: ``surveil init`` first, then a user, a patient, results, plans... Each must exit 0.
A line that cannot run here (make, createdb, a PostgreSQL server elsewhere) must be listed in
``OFFLINE_EXCEPTIONS`` with the reason, so a new README example is either run or classified.
"""

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from surveil.cli import _register, cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# README lines that are not run, and why. Keys are the commands as the test reads them (comment
# dropped, continuation lines joined, spaces collapsed).
OFFLINE_EXCEPTIONS = {
    "make run": "builds .venv with pip and then serves until stopped (a fresh clone is checked "
    "by hand, see the report of issue 12)",
    "make test": "runs this very suite",
    "createdb surveil": "needs a PostgreSQL server and its client tools",
    "export SURVEIL_DATABASE_URL=postgresql://surveil:secret@db.example.org/surveil": "a "
    "PostgreSQL server on another machine; the lines after it run against SQLite here",
}

# Placeholders a reader fills in from an earlier command's output, and how the test finds them.
FEED_OWNER = "100234"

# What a newcomer types when a command asks for a password.
PASSWORD = "correct horse battery"

_COMMENT = re.compile(r"\s{2,}\(.*$")  # "surveil replan --all   (after changing ...)"
_EXAMPLE_HEADING = re.compile(r"^\s*Examples?:\s*$")


def shell_lines(markdown: str) -> Iterator[str]:
    """Each command of each fenced ``sh`` block, continuation lines joined, comment dropped."""
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL):
        pending = ""
        for raw in block.splitlines():
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            words = shlex.split(pending + raw, comments=True)
            pending = ""
            if words:
                yield shlex.join(words)


def help_examples(help_text: str) -> list[str]:
    """The ``surveil ...`` lines under each Example(s): heading of a --help page, up to the
    next blank line; a line ending in a backslash continues on the next."""
    examples: list[str] = []
    inside, pending = False, ""
    for line in help_text.splitlines():
        text = line.strip()
        if _EXAMPLE_HEADING.match(line):
            inside, pending = True, ""
        elif not text:
            inside, pending = False, ""
        elif inside and (pending or text.startswith("surveil ")):
            whole = pending + text
            if whole.endswith("\\"):
                pending = whole[:-1].rstrip() + " "
            else:
                examples.append(_COMMENT.sub("", whole).strip())
                pending = ""
    return examples


def parses(command: click.Command, name: str, args: list[str]) -> None:
    """Parse ``args`` as ``command``'s options and arguments (required ones, types, choices)
    without running it. A file an example names on the reader's machine (``--password-file
    /run/secrets/ada``) need not exist here: that option parsed."""
    try:
        command.make_context(name, args)
    except click.BadParameter as error:
        missing_file = isinstance(error.param and error.param.type, click.Path)
        if not (missing_file and "does not exist" in error.message):
            raise


def leaf_commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*path, name))
        else:
            yield (*path, name), command


GLOBAL_OPTIONS = ("--as", "--config")  # `surveil --as nina export ...`: options of the group


def command_words(line: str) -> list[str]:
    """The words of a ``surveil`` line with the group's own options (and their values) left out,
    so ``surveil --as nina export fhir`` reads as the ``export fhir`` command."""
    words = shlex.split(line)
    while len(words) > 1 and words[1].split("=")[0] in GLOBAL_OPTIONS:
        del words[1 : 2 if "=" in words[1] else 3]
    return words


def all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    _register()
    return list(leaf_commands(cli))


COMMANDS = all_commands()


def test_every_command_is_found() -> None:
    """The walk sees every area's commands (37 when this test was written; more is fine)."""
    names = {" ".join(path) for path, _ in COMMANDS}
    assert len(names) >= 37
    assert {"init", "patient add", "feed rotate", "run-demo", "db check"} <= names


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(path) for path, _ in COMMANDS]
)
def test_help_exits_0_and_its_examples_parse(path: tuple[str, ...], command: click.Command) -> None:
    shown = CliRunner().invoke(cli, [*path, "--help"], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    examples = help_examples(shown.output)
    assert examples, f"`surveil {' '.join(path)} --help` shows no example:\n{shown.output}"
    prefix = ["surveil", *path]
    for example in examples:
        words = command_words(example)
        if words[: len(prefix)] != prefix:
            continue  # an example of a related command (e.g. the next step) is not parsed here
        parses(command, " ".join(prefix), words[len(prefix) :])
    assert any(command_words(e)[: len(prefix)] == prefix for e in examples), examples


def test_help_examples_are_found_in_every_layout() -> None:
    """The example reader itself: headings, continuation lines and trailing remarks."""
    text = """Usage: surveil x

  Does x.

  Examples:
    surveil x --a 1
    surveil x --b "two words" \\
      --c 3
    surveil x 12      (12: an id)

  More prose: surveil y is not an example.
"""
    assert help_examples(text) == [
        "surveil x --a 1",
        'surveil x --b "two words" --c 3',
        "surveil x 12",
    ]


def readme_lines() -> list[str]:
    return list(shell_lines(README.read_text(encoding="utf-8")))


def test_exceptions_are_still_in_the_readme() -> None:
    """An exception for a line the README no longer has would hide nothing: remove it."""
    assert set(OFFLINE_EXCEPTIONS) <= set(readme_lines())


def test_readme_examples_run_in_order_against_a_new_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register()
    empty_config = tmp_path / "surveil.toml"
    empty_config.write_text("")
    env = {
        "SURVEIL_CONFIG": str(empty_config),  # never a developer's own ./surveil.toml
        "SURVEIL_DATABASE_URL": f"sqlite:///{tmp_path / 'readme.db'}",
    }
    monkeypatch.chdir(ROOT)  # the README is read in a checkout (docs/examples/...)
    runner = CliRunner()
    ran: list[str] = []
    for line in readme_lines():
        if line in OFFLINE_EXCEPTIONS:
            continue
        words = shlex.split(line)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        assert words[0] == "surveil", f"README line neither run nor excepted: {line}"
        if "<id>" in words:
            words = [active_feed(runner, env) if w == "<id>" else w for w in words]
        if "--out" in words:  # files the README writes go to the test's folder, not the checkout
            at = words.index("--out") + 1
            words[at] = str(tmp_path / words[at])
        result = runner.invoke(
            cli, words[1:], env=env, input=f"{PASSWORD}\n{PASSWORD}\n", catch_exceptions=False
        )
        assert result.exit_code == 0, f"{line}\n{result.output}"
        ran.append(line)
    assert ran[0] == "surveil init"
    assert len(ran) >= 15  # the everyday commands, PostgreSQL's init and check, the feeds


def active_feed(runner: CliRunner, env: dict[str, str]) -> str:
    """``<id>`` in the README: the id of the patient's active feed, as `feed list` shows it."""
    listed = runner.invoke(cli, ["feed", "list", FEED_OWNER, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    active = [feed["id"] for feed in json.loads(listed.output) if feed["active"]]
    assert active, listed.output
    return str(active[0])


def test_surveil_commands_in_docs_name_real_commands_and_options() -> None:
    """docs/*.md are not run (they show big registries and other machines), but each
    ``surveil`` line in their ``sh`` blocks must name a command whose options exist."""
    leaves = dict(COMMANDS)
    checked = 0
    for page in sorted((ROOT / "docs").glob("*.md")):
        for line in shell_lines(page.read_text(encoding="utf-8")):
            words = command_words(line)
            if words[0] != "surveil":
                continue
            path = next((tuple(words[1:n]) for n in (3, 2) if tuple(words[1:n]) in leaves), None)
            assert path is not None, f"{page.name}: no such command: {line}"
            parses(leaves[path], " ".join(path), words[1 + len(path) :])
            checked += 1
    assert checked > 0
