"""Safe roll-out of a protocol change (issue 15): see whom a new pack version or profile would
affect (``diff``), then activate it with a named clinician's approval, or roll it back
(``activation``). The protocol in force is read by ``services.protocols.protocol_in_force``."""
