"""Where the data folders (schedules/, templates/, migrations/) are at run time.

In a checkout they sit at the top of the repository; in an installed wheel they ship as
``surveil/_resources/<name>``. Settings may point elsewhere (``paths.schedules`` etc.).
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_NAMES = ("schedules", "templates", "migrations")


def resource_dir(name: str, override: Path | None = None) -> Path:
    """The folder for ``name``, preferring an override, then the wheel copy, then the checkout."""
    if name not in _NAMES:
        raise ValueError(f"unknown resource folder {name!r}; expected one of {_NAMES}")
    if override is not None:
        return override
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"cannot find the {name}/ folder next to the surveil package ({_PACKAGE}); "
        "reinstall surveil or set paths." + name + " in the configuration"
    )
