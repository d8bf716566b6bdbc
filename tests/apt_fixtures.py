"""Shared set-up of the appointment tests: a migrated database with the sample reference
data and the two gateway enterprises, an intake without a broker, and small helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.appointments import refdata
from gateway.appointments import samples as apt
from gateway.appointments.codes import CHINA_TZ
from gateway.core.db import Database
from gateway.core.history import Change, Source, record
from gateway.core.intake import Intake, IntakeResult
from gateway.core.migrate import upgrade
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status
from gateway.ecx.samples import Party
from gateway.errors import InvalidMessage

EBC = Party("3301960Z01", "杭州云锦跨境电子商务有限公司", "DXPENT0000458763")  # advanced
CARRIER = Party("3301980W02", "宁波海捷国际物流有限公司", "DXPENT0000512209")  # general
ADVANCED_CONSIGNEE = "1101919107"
GENERAL_CONSIGNEE = "3301940002"
DISHONEST_CONSIGNEE = "3301940003"
UNQUALIFIED_CONSIGNEE = "3301940004"


def bj(text: str) -> datetime:
    """'2026-12-05 10:00' in Beijing time."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


@dataclass
class AptEnv:
    db: Database
    intake: Intake

    def submit(self, data: bytes, at: str | datetime, sender: Party = EBC) -> IntakeResult:
        when = bj(at) if isinstance(at, str) else at
        return self.intake.submit(sender.code, data, "test", at=when)

    def refused(self, data: bytes, at: str | datetime, sender: Party = EBC) -> list[Any]:
        with pytest.raises(InvalidMessage) as info:
            self.submit(data, at, sender)
        return list(info.value.violations)

    def request(self, cop_no: str, start: str, at: str, **kw: Any) -> int:
        sender = kw.pop("sender", EBC)
        msg = apt.request_message(sender, [apt.Request(cop_no, bj(start), **kw)])
        return self.submit(msg, at, sender).documents[0].id

    def set_status(self, doc_id: int, status: Status) -> None:
        """What a customs receipt would do (the receipt path has its own tests)."""
        with self.db.session() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            record(session, doc, Change(status, Source.CUSTOMS, "test"), None)

    def status(self, doc_id: int) -> str:
        with self.db.session() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            return doc.status

    def load(self, data: dict[str, Any]) -> None:
        with self.db.session() as session:
            refdata.load(session, data)


def make_env(path: Path, url: str | None = None) -> AptEnv:
    db = Database(url or f"sqlite:///{path / 'apt.db'}")
    upgrade(db)
    with db.session() as session:
        for party in (EBC, CARRIER):
            if session.scalar(select(Enterprise).where(Enterprise.code == party.code)) is None:
                session.add(Enterprise(code=party.code, name=party.name, dxp_id=party.dxp_id))
        refdata.load_sample(session)
    return AptEnv(db, Intake(db, None))


def rules_of(violations: list[Any]) -> list[str]:
    return [v.rule for v in violations]
