"""What the simulated customs does with appointment messages (R-APT-1..8 on its side).

A request is checked again against customs' own copy of the reference data (the sample
set, in the simulator's database); it is accepted (1) and booked (2, with an application
number), or returned (100) with the rule and reason. Clearance is reported when the
appointment window has ended: "cleared, no feedback" (5). Cancellations, feedback and
explanations are answered on their own receipt (120, or a negative code naming the rule)
and, when they take effect, by an APT102 that moves the appointment: cancelled (3),
cleared (4), explained (7).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.appointments import refdata, rules
from gateway.appointments.codes import AptReturn, OpReturn
from gateway.appointments.models import (
    AptCalendarDay,
    AptDeclaration,
    AptEnterprise,
    AptPort,
    AptTariff,
)
from gateway.appointments.receipts import build, stamp
from gateway.core.customs_sim.service import Answer, CustomsSim
from gateway.core.kinds import DocumentKind, Record, key_text

REF_TABLES = [
    t.__table__ for t in (AptEnterprise, AptPort, AptCalendarDay, AptTariff, AptDeclaration)
]
_READY: set[str] = set()


def _ref(session: Session) -> refdata.RefData:
    """Customs' reference data: its own tables in the simulator's database, sample-filled."""
    url = str(session.get_bind().engine.url)
    if url not in _READY:
        # In the session's own connection: SQLite would make another one wait for our lock.
        AptEnterprise.metadata.create_all(session.connection(), tables=REF_TABLES)  # type: ignore[arg-type]
        _READY.add(url)
    refdata.load_sample(session)
    return refdata.RefData(session)


def behaviours() -> dict[str, Callable[..., list[Any]]]:
    """How customs answers each appointment kind (the system's `sim_behaviours`)."""

    def make(fn: Callable[..., list[tuple[float, str, bytes, str]]]) -> Callable[..., list[Any]]:
        def behaviour(sim: CustomsSim, session: Session, kind: DocumentKind,
                      records: list[Record], *rest: str) -> list[Answer]:  # fmt: skip
            replies = fn(sim, session, kind, records, *rest)
            now = time.time()  # an Answer is due at an epoch: its returnTime (stamped earlier)
            return [Answer(now + delay, t, body, note) for delay, t, body, note in replies]

        return behaviour

    return {
        "appointment": make(_requests),
        "apt_cancel": make(_operations),
        "apt_feedback": make(_operations),
        "apt_explanation": make(_operations),
    }


def _entity(rec: Record, status: str, info: str, delay: float, **more: str) -> dict[str, str]:
    return {
        "declarantCode": rec.fields.get("declarantCode", ""),
        "copNo": rec.fields.get("copNo", ""),
        **more,
        "returnStatus": status,
        "returnTime": stamp(delay),
        "returnInfo": info,
    }


def apt_no(key: str) -> str:
    """Application number (预约通关申请单编号): 18 digits, stable per appointment."""
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**10
    return f"YY{datetime.now(UTC):%Y}{digest:012d}"


def _requests(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[tuple[float, str, bytes, str]]:
    ref, now = _ref(session), datetime.now(UTC)
    first, sd, rd = sim.sim.declaring_delay, sim.sim.declaring_delay, sim.sim.result_delay
    answers = []
    for n, rec in enumerate(records, start=1):
        req = rules.Request.of(rec, n)
        problems = rules.customs_recheck(ref, req, now)
        if problems:
            info = "; ".join(f"[{v.rule}] {v.field}: {v.message} ({v.value})" for v in problems)
            body = build("APT102Message", [_entity(rec, AptReturn.RETURNED, info[:4900], sd)])
            answers.append((first, "APT102Message", body, "returned"))
            continue
        key = key_text(rec.business_key)
        _hold(session, key, AptReturn.BOOKED.value)
        number = apt_no(key)
        accepted = _entity(rec, AptReturn.ACCEPTED, "已受理", sd)
        booked = _entity(rec, AptReturn.BOOKED, "预约成功", max(rd, sd + 0.002), aptNo=number)
        end = req.start + rules.DURATION if req.start else now
        later = max(rd * 2, (end - now).total_seconds())
        cleared = _entity(rec, AptReturn.CLEARED_NO_FEEDBACK, "通关完成未反馈", later, aptNo=number)
        answers += [
            (first, "APT102Message", build("APT102Message", [accepted]), "accepted"),
            (rd, "APT102Message", build("APT102Message", [booked]), "booked"),
            (later, "APT102Message", build("APT102Message", [cleared]), "cleared, no feedback"),
        ]
    return answers


def _hold(session: Session, key: str, status: str) -> None:
    from gateway.core.customs_sim.state import Declaration

    held = session.scalar(
        select(Declaration).where(
            Declaration.kind == "appointment", Declaration.business_key == key
        )
    )
    if held is None:
        held = Declaration(kind="appointment", business_key=key, sender_id="", versions=0)
        session.add(held)
    held.status, held.versions, held.last_cop_msg_id = status, held.versions + 1, ""


#: operation kind → (states customs allows it in, the appointment's next state, rule)
_OPERATIONS = {
    "apt_cancel": ({AptReturn.ACCEPTED, AptReturn.BOOKED}, AptReturn.CANCELLED, rules.CANCEL),
    "apt_feedback": (
        {AptReturn.BOOKED, AptReturn.CLEARED_NO_FEEDBACK, AptReturn.OVERDUE},
        AptReturn.CLEARED,
        rules.FEEDBACK,
    ),
    "apt_explanation": (
        {AptReturn.BOOKED, AptReturn.CLEARED_NO_FEEDBACK, AptReturn.OVERDUE},
        AptReturn.EXPLAINED,
        rules.EXPLAIN,
    ),
}


def _operations(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[tuple[float, str, bytes, str]]:
    from gateway.core.customs_sim.state import Declaration

    allowed, after, rule = _OPERATIONS[kind.name]
    sd, rd = sim.sim.declaring_delay, sim.sim.result_delay
    answers = []
    for rec in records:
        key = key_text(rec.business_key)
        held = session.scalar(
            select(Declaration).where(
                Declaration.kind == "appointment", Declaration.business_key == key
            )
        )
        if held is None or held.status not in {a.value for a in allowed}:
            state = held.status if held else "unknown"
            info = f"[{rule}] appointment {rec.fields.get('copNo')} is in state {state}"
            body = build(kind.receipt_type, [_entity(rec, "-1", info, sd)])
            answers.append((sd, kind.receipt_type, body, "refused"))
            continue
        held.status = after.value
        done = _entity(rec, OpReturn.ACCEPTED, "接收成功", sd)
        moved = _entity(rec, after, f"{kind.title}: {after.name.lower()}", rd)
        answers += [
            (sd, kind.receipt_type, build(kind.receipt_type, [done]), "accepted"),
            (rd, "APT102Message", build("APT102Message", [moved]), after.name.lower()),
        ]
    return answers


def announce(sim: CustomsSim, data: dict[str, Any], receivers: Sequence[str]) -> int:
    """Customs updates reference data: its own copy, and an APT110 to each receiver (the
    gateway takes it in from the receipts channel). Returns the messages scheduled."""
    from gateway.appointments import refmessage
    from gateway.codes import EXPORT_RECEIVER_ID
    from gateway.core.customs_sim.state import Scheduled
    from transports import wrap

    body = refmessage.build(data)
    with sim.db.session() as session:
        _ref(session)
        refdata.load(session, data)
        for receiver in receivers:
            env = wrap(body, msg_type=refmessage.MESSAGE_TYPE, sender_id=EXPORT_RECEIVER_ID,
                       receiver_ids=(receiver,))  # fmt: skip
            session.add(
                Scheduled(
                    due=time.time(),
                    routing_key=receiver,
                    message_id=env.cop_msg_id,
                    body=env.body,
                    note="reference data",
                )  # fmt: skip
            )
    return len(receivers)
