"""Shared set-up of the border declarations tests: a migrated database with the supervised
place's operator (a gateway enterprise), the place and the goods catalogue, an intake without
a broker, and a gate that answers as told.

The gate stands in for the people side's `verification` at the `identity.BiometricGate`
interface: these tests are about what the declarations side does with an outcome (R-BDR-6),
so each outcome is chosen; the e2e test uses the real one where it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select

from gateway.border import samples, store
from gateway.border.identity import BiometricMethod, Declarant, Verification
from gateway.core.db import Database
from gateway.core.history import Change, Source, record
from gateway.core.intake import Intake
from gateway.core.migrate import upgrade
from gateway.core.models import Document, Enterprise, StatusChange


@dataclass
class ScriptedGate:
    """Answers `verify_declarant` with the next outcome of `script` (True: passed)."""

    script: list[bool] = field(default_factory=list)
    asked: list[tuple[str, BiometricMethod]] = field(default_factory=list)

    def verify_declarant(self, declarant: Declarant, method: BiometricMethod) -> Verification:
        self.asked.append((declarant.terminal_id, method))
        passed = self.script.pop(0) if self.script else True
        reason = "" if passed else "人脸比对不一致"
        return Verification(
            passed=passed, method=method, attempts=1 if passed else 3, reason=reason
        )


@dataclass
class BorderEnv:
    db: Database
    intake: Intake

    def status(self, doc_id: int) -> str:
        with self.db.session() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            return doc.status

    def history(self, doc_id: int) -> list[str]:
        with self.db.session() as session:
            rows = session.scalars(
                select(StatusChange)
                .where(StatusChange.document_id == doc_id)
                .order_by(StatusChange.id)
            )
            return [f"{r.to_status}: {r.info or ''}" for r in rows]

    def set_status(self, doc_id: int, status: StrEnum, **numbers: str) -> None:
        """What a customs receipt would do (the receipt path has its own tests)."""
        with self.db.session() as session:
            doc = session.get(Document, doc_id)
            assert doc is not None
            record(session, doc, Change(status, Source.CUSTOMS, "test"), None)
            if numbers:
                doc.customs_numbers = {**(doc.customs_numbers or {}), **numbers}
                row = store.row(session, doc.business_key)
                if row is not None and "declNo" in numbers:
                    row.decl_no = numbers["declNo"]


def prepare(db: Database, method: BiometricMethod = samples.METHOD) -> None:
    """The operator enterprise, the place and the catalogue (idempotent)."""
    op = samples.OPERATOR
    with db.session() as session:
        if session.scalar(select(Enterprise).where(Enterprise.code == op.code)) is None:
            session.add(Enterprise(code=op.code, name=op.name, dxp_id=op.dxp_id, key_binding={}))
            session.flush()
        store.save_place(
            session, samples.PLACE_CODE, samples.PLACE_NAME, samples.DISTRICT, op.code, method
        )
        store.load_catalogue(session, samples.CATALOGUE)


def make_env(path: Path, url: str | None = None) -> BorderEnv:
    db = Database(url or f"sqlite:///{path / 'brd.db'}")
    upgrade(db)
    prepare(db)
    return BorderEnv(db, Intake(db, None))
