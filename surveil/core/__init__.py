"""The pure clinical core: facts, rules and ``today`` in; plans and triggers out.

Nothing here reads the clock, the database, the network or the file system.
"""
