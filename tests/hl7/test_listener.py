"""The MLLP listener over real loopback sockets: ACK codes, framing, idempotency, and what each
sample message does to the registry."""

import hashlib
import socket
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from surveil.db import models as m
from surveil.db.engine import make_engine
from surveil.db.hl7 import Hl7Message
from surveil.hl7.listener import Listener
from surveil.hl7.mllp import Deframer, frame
from surveil.hl7.sender import ack_code, ack_text, messages_in
from tests.hl7.conftest import SAMPLES, Running, World, hl7_settings


def _messages(engine: sa.Engine) -> list[Hl7Message]:
    with Session(engine) as session:
        return list(session.exec(select(Hl7Message).order_by(Hl7Message.id)).all())


def _markers(engine: sa.Engine, patient_id: int) -> list[m.MarkerResult]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(m.MarkerResult)
                .where(m.MarkerResult.patient_id == patient_id)
                .order_by(m.MarkerResult.id)
            ).all()
        )


def _item(engine: sa.Engine, item_id: int) -> m.FollowUpItem:
    with Session(engine) as session:
        item = session.get(m.FollowUpItem, item_id)
        assert item is not None
        return item


def test_a_cga_result_is_stored_before_its_ack_applied_and_closes_the_item(
    engine: sa.Engine, running: Running, world: World
) -> None:
    [ack] = running.send_file("oru_cga.hl7")
    assert ack_code(ack) == "AA", ack
    assert "MSA|AA|ORU0001|" in ack
    [row] = _messages(engine)
    raw = (SAMPLES / "oru_cga.hl7").read_bytes().replace(b"\n", b"\r")
    assert row.state == "applied" and row.control_id == "ORU0001" and row.kind == "ORU^R01"
    assert row.sha256 == hashlib.sha256(raw).hexdigest()
    assert row.raw and row.raw.startswith("MSH|")
    [marker] = _markers(engine, world.ann)
    assert (marker.name, marker.value, marker.unit, marker.uln) == ("cga", 120, "ug/L", 100)
    assert str(marker.date) == "2026-11-20"
    item = _item(engine, world.cga_item)
    assert item.state == "done" and str(item.completed_on) == "2026-11-20"
    # Stored and applied in one transaction, its ACK after the commit; the triggers and replan
    # of the patient follow in the listener's coalesced refresh.
    assert _actions(engine) == [
        ("marker.recorded", "hl7"),
        ("item.done", "hl7"),
        ("hl7.applied", "hl7"),
    ]
    running.listener.settle()  # what the refresher does a moment later
    assert _actions(engine)[-1] == ("hl7.refreshed", "hl7")
    assert not _messages(engine)[0].refresh_due
    with Session(engine) as session:
        refreshed = session.exec(
            select(m.AuditEvent).where(m.AuditEvent.action == "hl7.refreshed")
        ).one()
    assert (
        refreshed.detail
        == "triggers and plan re-run for 1 patient(s) after 1 HL7 result message(s)"
    )


def _actions(engine: sa.Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [
            (e.action, e.channel)
            for e in session.exec(select(m.AuditEvent).order_by(m.AuditEvent.id)).all()
        ]


def test_a_resent_message_is_acked_again_and_changes_nothing(
    engine: sa.Engine, running: Running, world: World
) -> None:
    first = running.send_file("oru_cga.hl7")
    again = running.send_file("oru_cga.hl7")
    assert [ack_code(a) for a in first + again] == ["AA", "AA"]
    assert len(_messages(engine)) == 1
    assert len(_markers(engine, world.ann)) == 1


def test_ack_codes_for_unknown_patients_codes_and_unreadable_messages(
    engine: sa.Engine, running: Running, world: World
) -> None:
    queued = {
        "oru_unknown_patient.hl7": "no patient with MRN 999999",
        "oru_unknown_code.hl7": "2951-2",
        "oru_not_number.hl7": "is not a number",
        "oru_preliminary.hl7": "is not final",
        "adt_a28_unknown.hl7": "no patient with MRN 555555",
        "siu_unmapped_type.hl7": "PHYSIO is not mapped",
        "adt_a40_merge.hl7": "merged MRN 100077 into MRN 100001",
    }
    for name, why in queued.items():
        [ack] = running.send_file(name)
        assert ack_code(ack) == "AE", (name, ack)
        assert why in ack, (name, ack)  # MSA-3 / ERR-8 say why
        assert "\rERR|" in ack
    rejected = {
        "bad_encoding_chars.hl7": "encoding characters",
        "bad_unsupported_type.hl7": "ORM\\S\\O01 is not one surveil takes",  # ^ escaped
        "bad_no_control_id.hl7": "MSH-10",
    }
    for name, why in rejected.items():
        [ack] = running.send_file(name)
        assert ack_code(ack) == "AR", (name, ack)
        if name == "bad_unsupported_type.hl7":  # its header was readable: MSA-2 names it
            assert "\rMSA|AR|BAD0003|" in ack and "|ACK^O01^ACK|" in ack
        assert why in ack, (name, ack)
    [no_msh] = running.send_raw((SAMPLES / "bad_no_msh.hl7").read_bytes())
    [latin] = running.send_raw((SAMPLES / "bad_not_utf8.hl7").read_bytes())
    assert ack_code(no_msh) == ack_code(latin) == "AR"
    assert "not UTF-8" in ack_text(latin)
    states = [row.state for row in _messages(engine)]
    assert states == ["queued"] * 7 + ["rejected"] * 5  # nothing dropped
    assert _markers(engine, world.ann) == []


def test_framing_split_across_packets_two_in_one_packet_and_a_megabyte(
    engine: sa.Engine, running: Running, world: World
) -> None:
    cga, gastrin = (messages_in(SAMPLES / n)[0] for n in ("oru_cga.hl7", "oru_gastrin.hl7"))
    nse = messages_in(SAMPLES / "oru_nse.hl7")[0]
    big = nse.replace(b"ORU0003", b"ORU0003BIG") + b"NTE|1||" + b"x" * 1_048_576 + b"\r"
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as connection:
        framed = frame(cga)
        for i in range(0, len(framed), 7):  # one message in 7-byte packets
            connection.sendall(framed[i : i + 7])
        acks = _read_acks(connection, 1)
        connection.sendall(frame(gastrin) + frame(nse))  # two messages in one packet
        acks += _read_acks(connection, 2)
        connection.sendall(frame(big))
        acks += _read_acks(connection, 1)
    assert [ack_code(a) for a in acks] == ["AA", "AA", "AA", "AA"], acks
    assert ["ORU0001" in acks[0], "ORU0004" in acks[1], "ORU0003|" in acks[2]] == [True] * 3
    names = sorted(marker.name for marker in _markers(engine, world.ann))
    assert names == ["cga", "gastrin", "nse", "nse"]
    assert max(len(row.raw or "") for row in _messages(engine)) > 1_048_576


def _read_acks(connection: socket.socket, count: int) -> list[str]:
    deframer, got = Deframer(), []
    while len(got) < count:
        data = connection.recv(65536)
        assert data, "connection closed before the ACK"
        got += deframer.feed(data)
    return [g.decode() for g in got]


def test_err_names_the_condition_and_where_it_is(running: Running, world: World) -> None:
    expected = {
        "bad_unsupported_type.hl7": "ERR||MSH^1^9|200^Unsupported message type^HL70357|E",
        "bad_no_control_id.hl7": "ERR||MSH^1^10|101^Required field missing^HL70357|E",
        "bad_encoding_chars.hl7": "ERR||MSH^1^2|102^Data type error^HL70357|E",
        "oru_unknown_patient.hl7": "ERR||PID^1^3|204^Unknown key identifier^HL70357|E",
        "oru_unknown_code.hl7": "ERR||OBX^1^3|103^Table value not found^HL70357|E",
        "siu_unmapped_type.hl7": "ERR||SCH^1^7|103^Table value not found^HL70357|E",
    }
    for name, err in expected.items():
        [ack] = running.send_file(name)
        assert "\r" + err in ack, (name, ack)
    assert world.ann


def test_when_the_database_is_gone_the_sender_is_told_ae_with_the_control_id(
    tmp_path: Path,
) -> None:
    gone = make_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'registry.db'}")
    listener = Listener(gone, hl7_settings(str(gone.url)))
    ack = listener.answer(messages_in(SAMPLES / "oru_cga.hl7")[0])
    assert ack_code(ack) == "AE" and "\rMSA|AE|ORU0001|" in ack
    assert "send it again" in ack_text(ack)
