"""Every error surveil raises on purpose, in one tree (stdlib only).

SurveilError
├── ConfigError        invalid settings; lists every problem
├── InvalidInput       bad facts or user input; lists every problem with its field
│   └── RuleError      a protocol file that does not validate
├── NotFound           an unknown patient, item, trigger, token...
├── PermissionDenied   the user may not do this
├── Conflict           duplicate MRN, stale state, a second daemon on SQLite
└── TransportError     a channel failed; ``permanent`` says whether to retry
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SurveilError(Exception):
    """Base of every deliberate error; the CLI prints it as one line and exits 2."""

    exit_code = 2


class InvalidInput(SurveilError):
    """Input that cannot be accepted. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem, *, what: str = "input") -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.what = what
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = [f"invalid {self.what} ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class ConfigError(InvalidInput):
    def __init__(self, problems: list[Problem] | Problem) -> None:
        super().__init__(problems, what="configuration")


class RuleError(InvalidInput):
    def __init__(self, problems: list[Problem] | Problem) -> None:
        super().__init__(problems, what="protocol")


class NotFound(SurveilError):
    pass


class PermissionDenied(SurveilError):
    pass


class Conflict(SurveilError):
    pass


class TransportError(SurveilError):
    """A send that did not clearly succeed.

    ``permanent``: trying again cannot help (a refused mailbox). ``outcome_unknown``: the
    message had been handed over (the end of SMTP DATA, or the whole HTTP request) when the
    answer went missing, so the provider may have it; a resend is a possible duplicate and is
    marked as such. Never both.
    """

    def __init__(self, message: str, *, permanent: bool, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent and not outcome_unknown
        self.outcome_unknown = outcome_unknown
