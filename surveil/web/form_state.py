"""What a form page needs to show a refused form again: the values typed, each field's problems
(shown beside the field, all at once) and the choices of its drop-down lists.

Services name a problem by their field name (``ki67``, ``since``...); a form may call a field
otherwise (``state_kind`` ...), so ``FIELD_ALIASES`` maps the service's names onto the form's."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from surveil.errors import Problem
from surveil.web.contexts import Option


@dataclass(frozen=True)
class FormState:
    values: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    choices: Mapping[str, tuple[Option, ...]] = field(default_factory=dict)
    general: tuple[str, ...] = ()  # problems that belong to no field of this form

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def options(self, name: str, key: str | None = None) -> tuple[Option, ...]:
        """The field's choices (``key`` names another list), the value typed selected."""
        chosen = self.value(name)
        return tuple(
            Option(o.value, o.label, selected=o.value == chosen) for o in self.choices[key or name]
        )

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.errors.values()) + len(self.general)


def problems_by_field(
    problems: Iterable[Problem], fields: Iterable[str], aliases: Mapping[str, str] | None = None
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """Each form field's problems, and the rest (shown at the top of the form)."""
    known = set(fields)
    aliases = aliases or {}
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        name = aliases.get(problem.field, problem.field)
        if name in known:
            errors.setdefault(name, []).append(problem.message)
        else:
            general.append(str(problem))
    return {k: tuple(v) for k, v in errors.items()}, tuple(general)


def enum_options(
    values: type[StrEnum], *, blank: str | None = None, words: Mapping[str, str] | None = None
) -> tuple[Option, ...]:
    """A drop-down's options from a vocabulary; ``blank`` adds a first "not given" choice."""
    words = words or {}
    first = (Option("", blank),) if blank is not None else ()
    return first + tuple(
        Option(v.value, words.get(v.value, v.value.replace("_", " "))) for v in values
    )
