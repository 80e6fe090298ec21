"""How an outreach contact's result reads, on the patient page and the worklist row."""

from surveil.db.models_care import OutreachResult

RESULT_WORDS: dict[str, str] = {
    OutreachResult.REACHED: "reached",
    OutreachResult.VOICEMAIL: "left a voicemail",
    OutreachResult.NO_ANSWER: "no answer",
    OutreachResult.WRONG_NUMBER: "wrong number",
    OutreachResult.WILL_BOOK: "will book",
    OutreachResult.DECLINED: "declined",
}
