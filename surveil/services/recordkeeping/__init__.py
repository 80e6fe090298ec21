"""Keeping a patient's record right and reaching the patient: doses given, corrections and
strike-outs of mistyped results, and the navigator's outreach log (issue 13 part B-2). Built on
``records.results`` (the shared find-write-replan step), above it in the layers."""
