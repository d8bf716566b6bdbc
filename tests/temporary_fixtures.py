"""Shared set-up of the temporary-goods tests: a migrated database with the two gateway
enterprises (the first bound to an IC card), an intake without a broker, and helpers."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter
from sqlalchemy import select

from gateway.core import registry
from gateway.core.db import Database
from gateway.core.history import Change, Source, record
from gateway.core.intake import Intake, IntakeResult
from gateway.core.migrate import upgrade
from gateway.core.models import Document, Enterprise
from gateway.core.receipt_processor import ReceiptProcessor
from gateway.ecx.samples import Party
from gateway.errors import InvalidMessage, Violation
from gateway.temporary import declarations, receipts
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpStatus
from gateway.temporary.models import TmpDeclarationGoods, TmpExhibition

# Until the system ships in DEFAULT_SYSTEMS (and after: installing twice is a no-op).
registry.ensure_installed(("gateway.temporary.system",))

EBC = Party("3301960Z01", "杭州云锦跨境电子商务有限公司", "DXPENT0000458763")
CARRIER = Party("3301980W02", "宁波海捷国际物流有限公司", "DXPENT0000512209")
CARD = "JC0000123456789"  # EBC's IC card number: its operator (操作员)
#: the exhibition customs number the loan-list tests approve, and its demo declarations
EXHIBITION_NO = "ZL29002026123456"
ENTRY_1, ENTRY_2 = "290020261000000101", "290020261000000102"


@dataclass
class TmpEnv:
    db: Database
    intake: Intake

    def submit(self, data: bytes, sender: Party = EBC, at: datetime | None = None) -> IntakeResult:
        return self.intake.submit(sender.code, data, "test", at=at)

    def refused(self, data: bytes, sender: Party = EBC) -> list[Violation]:
        with pytest.raises(InvalidMessage) as info:
            self.submit(data, sender)
        return list(info.value.violations)

    def register(self, cop_no: str, sender: Party = EBC, **kw: Any) -> int:
        msg = tmp.registration_message(sender, [tmp.Registration(cop_no, **kw)])
        return self.submit(msg, sender).documents[0].id

    def set_status(self, doc_id: int, status: StrEnum, **numbers: str) -> None:
        """What a customs receipt would do (the receipt path has its own tests)."""
        with self.db.session() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            record(session, doc, Change(status, Source.CUSTOMS, "test"), None)
            if numbers:
                doc.customs_numbers = {**(doc.customs_numbers or {}), **numbers}

    def status(self, doc_id: int) -> str:
        with self.db.session() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            return doc.status

    def row(self, cop_no: str, agent: str = EBC.code) -> TmpExhibition:
        with self.db.session() as session:
            row = session.scalar(
                select(TmpExhibition).where(
                    TmpExhibition.agent_code == agent, TmpExhibition.cop_no == cop_no
                )
            )
            assert row is not None
            session.expunge(row)
            return row

    def approved_exhibition(self, cop_no: str, number: str, sender: Party = EBC) -> int:
        """A registration customs approved with `number`, and the demo's declarations
        linked to it (see `tmp.sample_declarations`)."""
        doc = self.register(cop_no, sender)
        self.set_status(doc, TmpStatus.APPROVED, exhibitionNo=number)
        rows = declarations.parse(tmp.sample_declarations(number))
        if number != EXHIBITION_NO:  # another exhibition's declarations: other numbers
            rows = [{**r, "entry_id": r["entry_id"][:-6] + number[-3:] + r["entry_id"][-3:]}
                    for r in rows]  # fmt: skip
        with self.db.session() as session:
            declarations.load(session, TmpDeclarationGoods, rows)
        return doc

    def receipt(self, message_type: str, **entity: str) -> str:
        """Apply one customs receipt now; its outcome (matched, unmatched…)."""
        at = datetime.now(UTC).timestamp()
        body = receipts.build(message_type, [entity], at)
        return ReceiptProcessor(self.db, None).handle(body).outcome


def make_env(path: Path, url: str | None = None) -> TmpEnv:
    db = Database(url or f"sqlite:///{path / 'tmp.db'}")
    upgrade(db)
    with db.session() as session:
        for party, binding in ((EBC, {"backend": "card", "card_number": CARD}), (CARRIER, {})):
            if session.scalar(select(Enterprise).where(Enterprise.code == party.code)) is None:
                session.add(Enterprise(code=party.code, name=party.name, dxp_id=party.dxp_id,
                                       key_binding=binding))  # fmt: skip
    return TmpEnv(db, Intake(db, None))


def rules_of(violations: list[Violation]) -> list[str]:
    return [v.rule for v in violations]


def fields_of(violations: list[Violation]) -> list[str]:
    """The element names the violations point at ("Exhibition[1]/customsCode (主管海关)")."""
    return [v.field.split("/")[-1].split(" ")[0] for v in violations]


def pdf_of(size: int | None = None) -> bytes:
    """A real one-page PDF, of exactly `size` bytes when given (its metadata padded)."""
    padding = 0
    for _ in range(5):
        writer = PdfWriter()
        writer.add_blank_page(200, 200)
        writer.add_metadata({"/Padding": "x" * padding})
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
        if size is None or len(data) == size:
            return data
        padding += size - len(data)
    raise AssertionError(f"no PDF of {size} bytes")
