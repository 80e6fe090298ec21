"""Digits as a form, a message or a file means them: 0-9 and nothing else.

``str.isdigit`` also accepts superscripts, circled digits and other scripts' digits ("¹", "①",
"٣"), some of which ``int`` then refuses and none of which a person typing an id, a phone number
or a one-time code meant. Every check in surveil that text is made of digits goes through here
(``tests/core/test_digits.py`` fails on a ``str.isdigit`` anywhere else). Where text is handed
straight to ``int``, ``float`` or ``strptime`` instead, those refuse what they cannot read, and
the caller turns that into a problem naming the field.
"""


def is_digits(text: str) -> bool:
    """True for a non-empty run of ASCII 0-9: "0042" yes; "", "4 2", "¹", "٣" no."""
    return text.isascii() and text.isdigit()


def only_digits(text: str) -> str:
    """The ASCII digits of ``text`` in order, the rest dropped: "123 456" -> "123456"."""
    return "".join(ch for ch in text if "0" <= ch <= "9")
