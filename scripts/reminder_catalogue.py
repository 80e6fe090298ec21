"""Write the list of strings a reminder translation needs, as a gettext template (``.pot``).

A clinic adding a language copies it to ``<templates>/locale/<lang>/LC_MESSAGES/messages.po``,
fills in every ``msgstr`` (keeping each ``%(name)s`` placeholder), and restarts the daemon: no
code. An existing ``.po`` can be brought up to date with ``pybabel update``.

    python scripts/reminder_catalogue.py > messages.pot
    python scripts/reminder_catalogue.py --templates /etc/surveil/templates > messages.pot
"""

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from surveil.render.i18n import template_msgids
from surveil.resources import resource_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=Path, default=None, help="a clinic's templates folder")
    args = parser.parse_args()
    catalog = Catalog(project="surveil", domain="messages", charset="utf-8", fuzzy=False)
    for msgid in sorted(template_msgids(resource_dir("templates", args.templates))):
        catalog.add(msgid, "")
    out = io.BytesIO()
    write_po(out, catalog, width=100, no_location=True)
    sys.stdout.write(out.getvalue().decode())


if __name__ == "__main__":
    main()
