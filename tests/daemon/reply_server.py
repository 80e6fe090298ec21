"""The web app in a process of its own for the inbound-reply crash test: the real app under
uvicorn, settings from ``SURVEIL_*`` variables like the real server, the crash hook
``SURVEIL_TEST_KILL_AT`` read by ``surveil.services.reminders.faults``.

    python tests/daemon/reply_server.py PORT
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uvicorn

from surveil.config import load_settings
from surveil.web.app import create_app


def main() -> None:
    settings = load_settings(environ=os.environ)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[1]), log_level="error")


if __name__ == "__main__":
    main()
