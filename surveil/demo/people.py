"""The people in the demo registry: synthetic names, birth dates, contact details, time zones, and
the demo logins.

Names are built from small word lists so nobody could mistake a demo patient for a real one
("Hazel Fernbrook"), emails live at example.org and phone numbers in Ofcom's range reserved for
drama (+44 7700 900000–900999), so a demo reminder can never reach a real person.
"""

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from surveil.db.models import Channel, Role, Sex

NORTHERN_CLINIC = "Northern NET Centre"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GIVEN_NAMES = {
    Sex.FEMALE: _words(
        "Ada Bea Clara Daisy Edith Flora Greta Hazel Iris June Kit Lena Maud Nell Olive Pearl "
        "Rosa Sylvie Tess Wren"
    ),
    Sex.MALE: _words(
        "Albert Basil Cyril Dexter Edwin Felix Gus Hugo Ivor Jasper Leo Milo Ned Otto Percy Rufus "
        "Silas Theo Walter Zeb"
    ),
}
NEUTRAL_GIVEN_NAMES = _words("Ash Robin Sam Jules River Sky")

# Family names are two pleasant halves joined ("Fern" + "brook"): plainly made up.
FAMILY_HEADS = _words(
    "Amber Apple Birch Bright Clover Dew Elder Fern Gold Hazel Holly Ivy Juniper Lark Maple Moss "
    "Oak Pine Quill Rose Sage Sorrel Thistle Willow"
)
FAMILY_TAILS = _words(
    "brook by combe dale field ford gate hill holt hurst lea mere ridge shaw stead ton well wick "
    "wood worth"
)

# Share of patients who live outside the clinic's own zone, and where they live: enough to show
# that due dates are dates where the patient is (DST in both hemispheres, no DST, half hours).
AWAY_SHARE = 0.08
AWAY_ZONES = (
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Oslo",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
)

CHANNEL_WEIGHTS = {Channel.EMAIL: 0.65, Channel.SMS: 0.30, Channel.NONE: 0.05}
OPTED_OUT_SHARE = 0.03
NO_CONSENT_SHARE = 0.02


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: Role
    display_name: str
    clinic: str  # "" means the clinic the demo is generated for


# Printed by `surveil demo` and listed in the README: demo data only, never a real deployment.
DEMO_USERS = (
    DemoUser("admin", "admin-demo", Role.ADMIN, "Ada Admin (demo)", ""),
    DemoUser("doctor", "doctor-demo", Role.CLINICIAN, "Dr Basil Oakridge (demo)", ""),
    DemoUser("nurse", "nurse-demo", Role.NAVIGATOR, "Nell Navigator (demo)", ""),
    DemoUser("nurse2", "nurse2-demo", Role.NAVIGATOR, "Noor Navigator (demo)", ""),
    DemoUser("north", "north-demo", Role.NAVIGATOR, "Niamh Northfield (demo)", NORTHERN_CLINIC),
)
MAIN_NAVIGATORS = ("nurse", "nurse2")
NORTHERN_NAVIGATOR = "north"


def pick_sex(rng: random.Random) -> Sex:
    roll = rng.random()
    if roll < 0.005:
        return Sex.OTHER
    if roll < 0.01:
        return Sex.UNKNOWN
    return Sex.FEMALE if roll < 0.505 else Sex.MALE


def pick_name(rng: random.Random, sex: Sex) -> tuple[str, str]:
    given = rng.choice(GIVEN_NAMES.get(sex, NEUTRAL_GIVEN_NAMES))
    return given, rng.choice(FAMILY_HEADS) + rng.choice(FAMILY_TAILS)


def birth_date_for(rng: random.Random, *, age: float, on: dt.date) -> dt.date:
    """A birth date that makes the patient ``age`` years old (to the day, roughly) on ``on``."""
    return on - dt.timedelta(days=round(age * 365.25) + rng.randrange(0, 365))


def pick_timezone(rng: random.Random, home: str) -> str:
    return rng.choice(AWAY_ZONES) if rng.random() < AWAY_SHARE else home


def contact_details(
    rng: random.Random, *, number: int, given: str, family: str, adult: bool
) -> dict[str, Any]:
    """Email, phone, channel and consent; a child is reached through nobody (channel none)."""
    channel = rng.choices(list(CHANNEL_WEIGHTS), weights=list(CHANNEL_WEIGHTS.values()))[0]
    email: str | None = f"{given}.{family}.{number}@example.org".lower()
    phone: str | None = f"+447700900{number % 1000:03d}"
    if channel is Channel.EMAIL and rng.random() < 0.15:
        phone = None
    if channel is Channel.SMS and rng.random() < 0.15:
        email = None
    if not adult:
        channel = Channel.NONE
    return {
        "email": email,
        "phone": phone,
        "preferred_channel": channel.value,
        "consent_reminders": rng.random() >= NO_CONSENT_SHARE,
        "opted_out": rng.random() < OPTED_OUT_SHARE,
    }
