"""FHIR R4 export of each patient's record and follow-up plan, as plain JSON dicts.

- ``bundle.export_patient_bundle``: one patient as a ``Patient/$everything`` searchset Bundle.
- ``bulk.export_ndjson``: one patient or a whole clinic as Bulk Data style ndjson files.

Both are audited reads (``patient.exported.fhir``). The resources are built by ``clinical``
(Patient, Condition, Observation) and ``plan`` (CarePlan, ServiceRequest, Task) from the rows
``rows`` reads; ``codes`` holds every code sent (documented in docs/fhir.md). No FHIR library
is needed at run time: the tests validate the output with ``fhir.resources.R4B``.
"""
