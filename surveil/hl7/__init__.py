"""The HL7 v2 shell (issue 17): an MLLP listener and sender. It frames bytes and calls the
services in ``surveil.services.hl7``; it never holds a transaction."""
