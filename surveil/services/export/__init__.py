"""Patient records leaving surveil in standard formats (FHIR R4), always as audited reads."""
