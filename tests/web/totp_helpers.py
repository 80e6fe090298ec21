"""Codes for the second factor's web tests: from the secret a page shows, at a chosen 30-second
step, never too close to a step's end (the server reads the clock a moment later)."""

import datetime as dt
import re
import time

import pyotp

STEP = 30


def settle() -> None:
    """Wait out the last 3 seconds of a step, so 'now' and the server's 'now' agree."""
    left = STEP - time.time() % STEP
    if left < 3:
        time.sleep(left + 0.2)


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code of the current step (+ ``steps_ahead``, within the accepted skew of one)."""
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=STEP * steps_ahead)
    return pyotp.TOTP(secret).at(when)


def secret_on(html: str) -> str:
    found = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert found, "no TOTP key on the page"
    return found.group(1).replace(" ", "")


def recovery_codes_on(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", html)
