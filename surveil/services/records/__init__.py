"""Changes to a patient's clinical record (enrolment, results, item actions): entry points that
record the change and then refresh the patient's triggers and plan."""
