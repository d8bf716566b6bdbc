"""APT receipts: built ones pass their XSD and parse back; the simulated customs returns a
request that fails its own re-check, naming the rule."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from lxml import etree
from sqlalchemy.orm import Session

from gateway.appointments import receipts
from gateway.appointments import samples as apt
from gateway.appointments.codes import APPOINTMENT_STATUSES, AptReturn, AptStatus
from gateway.appointments.kinds import APPOINTMENT
from gateway.appointments.sim import _requests
from gateway.core.customs_sim.state import SimBase
from gateway.core.db import Database
from gateway.core.status import Status
from receipts.parse import parse_receipt
from schemas import loader
from tests.apt_fixtures import EBC, bj

ENTITY = {"declarantCode": EBC.code, "copNo": "R1", "returnStatus": "2", "returnInfo": "预约成功"}


def test_every_receipt_passes_its_xsd_and_parses_back() -> None:
    for mtype in ("APT102Message", "APT104Message", "APT106Message", "APT108Message"):
        body = receipts.build(mtype, [{**ENTITY, "aptNo": "YY2026000000000001"}])
        assert loader.validate(etree.fromstring(body)) == []
        parsed = parse_receipt(body)
        (entity,) = parsed.entities
        assert entity.key(("declarantCode", "copNo")) == (EBC.code, "R1")
        assert entity.assigned_numbers() == {"aptNo": "YY2026000000000001"}


def test_appointment_codes_map_to_statuses() -> None:
    assert APPOINTMENT.receipt_statuses is APPOINTMENT_STATUSES
    assert APPOINTMENT_STATUSES[AptReturn.CLEARED_NO_FEEDBACK] is AptStatus.CLEARED_NO_FEEDBACK
    assert APPOINTMENT_STATUSES[AptReturn.RETURNED] is Status.RETURNED


def test_customs_returns_a_request_that_fails_its_recheck(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sim.db'}")
    SimBase.metadata.create_all(db.engine)
    sim = SimpleNamespace(sim=SimpleNamespace(declaring_delay=0.0, result_delay=0.0))
    # In working hours (Wednesday 10:00) and far too late: R-APT-4.
    data = apt.request_message(EBC, [apt.Request("R1", bj("2026-12-02 10:00"))])
    records = list(APPOINTMENT.records(etree.fromstring(data)))
    with Session(db.engine) as session:
        answers = _requests(sim, session, APPOINTMENT, records)  # type: ignore[arg-type]
    (answer,) = answers
    (entity,) = parse_receipt(answer[2]).entities
    assert entity.return_status == "100" and "[R-APT-4]" in entity.return_info
    db.dispose()


def test_reference_data_from_customs_round_trips_and_is_taken_in(tmp_path: Path) -> None:
    from gateway.appointments import refmessage
    from gateway.appointments.models import AptCalendarDay, AptDeclaration, AptEnterprise
    from tests.apt_fixtures import make_env
    from transports import wrap

    data = {
        "enterprises": [{"code": "3301940009", "uscc": "91330106MA2AAAA009",
                         "ciq_code": "3300600109", "name": "杭州新失信有限公司",
                         "credit_class": "general", "qualified": True, "dishonest": True}],
        "calendar": [{"port": "2233", "day": "2026-12-31", "working": False, "note": "闭关"}],
        "tariff": [{"hs_code": "0901220000", "name": "已焙炒已浸除咖啡碱的咖啡"}],
        "declarations": [{"entry_id": "223320260000000001", "ie_flag": "E",
                          "declarant_code": EBC.code, "consignee_code": "1101919107",
                          "decl_port": "2233", "ie_port": "2248",
                          "declared_at": bj("2026-12-05 11:00")}],
    }  # fmt: skip
    body = refmessage.build(data)
    assert loader.validate(etree.fromstring(body)) == []
    assert refmessage.read(body)["declarations"][0]["declared_at"] == bj("2026-12-05 11:00")
    env = make_env(tmp_path)
    sender = "DXPEDCCEB0000003"
    env_body = wrap(body, msg_type="APT110Message", sender_id=sender, receiver_ids=("X",)).body
    assert refmessage.handle_envelope(env.db, env_body)
    receipt = receipts.build("APT102Message", [ENTITY])
    other = wrap(receipt, msg_type="APT102Message", sender_id=sender, receiver_ids=("X",)).body
    assert not refmessage.handle_envelope(env.db, other)
    with env.db.session() as s:
        ent = s.get(AptEnterprise, "3301940009")
        assert ent is not None and ent.dishonest
        assert s.get(AptDeclaration, "223320260000000001") is not None
        day = s.get(AptCalendarDay, ("2233", bj("2026-12-31 00:00").date()))
        assert day is not None and not day.working
    env.db.dispose()
