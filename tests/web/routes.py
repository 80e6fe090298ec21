"""Every route of the web app, read from the app itself (its OpenAPI description), so a test that
walks them all also walks a route added tomorrow."""

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str  # with {placeholders}
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    form_fields: tuple[str, ...]

    def url(self, values: dict[str, str]) -> str:
        return self.path.format(**{name: values[name] for name in self.path_params})


def app_routes(app: FastAPI) -> list[RouteSpec]:
    spec = app.openapi()
    schemas = spec.get("components", {}).get("schemas", {})
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            parameters = operation.get("parameters", [])
            found.append(
                RouteSpec(
                    method=method.upper(),
                    path=path,
                    path_params=_names(parameters, "path"),
                    query_params=_names(parameters, "query"),
                    form_fields=_form_fields(operation, schemas),
                )
            )
    return found


def _names(parameters: list[dict[str, Any]], where: str) -> tuple[str, ...]:
    return tuple(p["name"] for p in parameters if p["in"] == where)


def _form_fields(operation: dict[str, Any], schemas: dict[str, Any]) -> tuple[str, ...]:
    content = operation.get("requestBody", {}).get("content", {})
    form = content.get("application/x-www-form-urlencoded")
    if form is None:
        return ()
    schema = form["schema"]
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    return tuple(schema.get("properties", {}))
