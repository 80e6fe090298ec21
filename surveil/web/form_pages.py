"""Page contexts of the enrolment form and the patient page's small forms (one dataclass per
page, as in ``web.contexts``)."""

from dataclasses import dataclass

from surveil.web.contexts import Frame
from surveil.web.form_state import FormState


@dataclass(frozen=True)
class EnrolPage:
    frame: Frame
    form: FormState
    existing: str = ""  # the page of the patient who already has the MRN typed


@dataclass(frozen=True)
class RecordFormPage:
    """One of the patient page's forms shown again on its own, with its problems (422)."""

    frame: Frame
    form: FormState
    patient_id: int
    title: str
    template: str  # the form's partial under templates/web/patients/forms/
