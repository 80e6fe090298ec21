"""A posted form as plain text values, for forms with many fields (enrolment, the record's
small forms): one dependency instead of a parameter per field. Starlette has already parsed
the form once (``inputs.refuse_bad_input`` looked at every value), so this reads its cache."""

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile

from surveil.errors import InvalidInput, Problem

MAX_VALUE = 500  # no field of these forms needs more; longer is refused, never cut


@dataclass(frozen=True)
class FormValues:
    all: dict[str, str]

    def text(self, name: str) -> str:
        return self.all.get(name, "")

    def checked(self, name: str) -> bool:
        """A checkbox: present (any value) when ticked, absent otherwise."""
        return name in self.all


async def form_values(request: Request) -> FormValues:
    form = await request.form()
    values: dict[str, str] = {}
    problems = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile) or name == "csrf_token" or name in values:
            continue
        if len(value) > MAX_VALUE:
            problems.append(Problem(name[:64], f"longer than {MAX_VALUE} characters"))
        values[name] = value
    if problems:
        raise InvalidInput(problems, what="form")
    return FormValues(values)
