"""HL7 v2 feeds (issue 17): the message store, reading messages, and applying them."""
