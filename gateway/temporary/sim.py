"""What the simulated customs (H2018's side) does with temporary-goods messages.

A declared registration is checked again by customs: a supervising or registration customs it
does not know cannot be stored (海关入库失败, a negative code); stored ones (1) are reviewed and
approved (2, with the exhibition customs number) or not approved (3) with the reason — dates
out of order, an international area larger than the whole. A change application of an approved
registration is answered on TMP104 and, approved, moves the registration on TMP102 (its
history shows the change); a deletion application is answered on TMP106 and, granted, ends the
registration (TMP102, 4). Reasons follow customs' "[Code:n;Desc:…]" style.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gateway.core.customs_sim.service import Answer, CustomsSim
from gateway.core.customs_sim.state import Declaration, held_declaration
from gateway.core.kinds import DocumentKind, Record, key_text
from gateway.temporary import rules
from gateway.temporary.codes import CUSTOMS, TmpReturn
from gateway.temporary.receipts import build

EXHIBITION = "tmp_exhibition"
#: customs' own states of a registration it holds (sim_declarations.status, ≤ 10 characters)
HELD_APPROVED, HELD_REFUSED, HELD_WITHDRAWN = "approved", "refused", "withdrawn"


@dataclass(frozen=True)
class Timing:
    """When each step's receipt is due (epoch seconds), from the simulator's delays."""

    stored: float
    result: float

    @classmethod
    def of(cls, sim: CustomsSim) -> Timing:
        now = time.time()
        first = sim.sim.declaring_delay
        return cls(now + first, now + max(sim.sim.result_delay, first + 0.002))


def behaviours() -> dict[str, Callable[..., list[Any]]]:
    """How customs answers each temporary-goods kind (the system's `sim_behaviours`)."""
    return {
        EXHIBITION: _registrations,
        "tmp_exhibition_change": _changes,
        "tmp_exhibition_deletion": _deletions,
    }


def exhibition_no(customs: str, key: str) -> str:
    """展览会海关编号 as this simulator gives it (the manual shows none): "ZL" + customs +
    year + 6 digits, stable per registration."""
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**6
    return f"ZL{customs}{time.gmtime().tm_year}{digest:06d}"


def _entity(rec: Record, status: str, info: str, **more: str) -> dict[str, str]:
    return {
        "agentCode": rec.fields.get("agentCode", ""),
        "copNo": rec.fields.get("copNo", ""),
        **more,
        "returnStatus": status,
        "returnInfo": info[:4900],
    }


def _reason(code: str, text: str) -> str:
    return f"[Code:{code};Desc:{text}]"


def storage_problems(rec: Record) -> list[str]:
    """Why customs cannot store the record at all (海关入库失败)."""
    found = []
    for name, term in (("customsCode", "主管海关"), ("regCustomsCode", "备案海关")):
        value = rec.fields.get(name, "")
        if value and value not in CUSTOMS:
            found.append(_reason("T101", f"{term}代码{value}不存在 ({name})"))
    return found


def review_problems(rec: Record) -> list[str]:
    """Why customs' review does not approve it (审核不通过): the form's own consistency,
    which customs checks again whatever the sender's software did."""
    where = rules.Where(rec.element.tag, 1, rec.element)
    return [
        _reason("T201", f"{v.field.split('/')[-1]}: {v.message} ({v.value})")
        for v in rules.form_values(rec, where)
    ]


def _hold(session: Session, key: str, status: str) -> Declaration:
    held = held_declaration(session, EXHIBITION, key)
    if held is None:
        held = Declaration(kind=EXHIBITION, business_key=key, sender_id="", versions=0)
        session.add(held)
    held.status, held.versions, held.last_cop_msg_id = status, held.versions + 1, ""
    return held


def _registrations(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        key = key_text(rec.business_key)
        held = held_declaration(session, EXHIBITION, key)
        refused = storage_problems(rec)
        if held is not None and held.status in (HELD_APPROVED, HELD_WITHDRAWN):
            done = "审核通过" if held.status == HELD_APPROVED else "删除"
            refused.append(_reason("T102", f"展览会备案已{done}，不能重复申报"))
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", "; ".join(refused), "store failed"))
            continue
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored"))
        problems = review_problems(rec)
        if problems:
            _hold(session, key, HELD_REFUSED)
            info = "审核不通过: " + "; ".join(problems)
            answers.append(_one(kind, rec, at.result, TmpReturn.NOT_APPROVED, info, "not approved"))
            continue
        _hold(session, key, HELD_APPROVED)
        number = exhibition_no(rec.fields.get("customsCode", ""), key)
        answers.append(_one(kind, rec, at.result, TmpReturn.APPROVED, "审核通过", "approved",
                            exhibitionNo=number))  # fmt: skip
    return answers


def _one(kind: DocumentKind, rec: Record, due: float, status: str, info: str, note: str,
         **more: str) -> Answer:  # fmt: skip
    entity = _entity(rec, status, info, **more)
    return Answer(due, kind.receipt_type, build(kind.receipt_type, [entity], due), note)


def _exhibition_answer(rec: Record, due: float, status: str, info: str, **more: str) -> Answer:
    body = build("TMP102Message", [_entity(rec, status, info, **more)], due)
    return Answer(due, "TMP102Message", body, f"registration {status}")


def _registration_of(session: Session, rec: Record) -> tuple[str, Declaration | None]:
    """The registration an application names, as customs holds it."""
    key = key_text((rec.fields.get("agentCode", ""), rec.fields.get("copNo", "")))
    return key, held_declaration(session, EXHIBITION, key)


def _not_approved_registration(rec: Record, held: Declaration | None) -> str | None:
    if held is None or held.status != HELD_APPROVED:
        state = held.status if held else "unknown"
        return _reason("T103", f"展览会备案{rec.fields.get('copNo')}未审核通过或已删除 ({state})")
    given = rec.fields.get("exhibitionNo", "")
    if given and not given.startswith("ZL"):
        return _reason("T104", f"展览会海关编号{given}不存在")
    return None


def _changes(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        _key, held = _registration_of(session, rec)
        seq = rec.fields.get("seqNo", "")
        refused = [r for r in (_not_approved_registration(rec, held),) if r]
        refused += storage_problems(rec)
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", "; ".join(refused), "store failed",
                                seqNo=seq))  # fmt: skip
            continue
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored",
                            seqNo=seq))  # fmt: skip
        problems = review_problems(rec)
        if problems:
            info = "审核不通过: " + "; ".join(problems)
            answers.append(_one(kind, rec, at.result, TmpReturn.NOT_APPROVED, info,
                                "not approved", seqNo=seq))  # fmt: skip
            continue
        given = rec.fields.get("exhibitionNo", "")
        answers.append(_one(kind, rec, at.result, TmpReturn.APPROVED, "变更审核通过", "approved",
                            seqNo=seq, exhibitionNo=given))  # fmt: skip
        info = f"变更{seq}审核通过: {rec.fields.get('changeReason', '')}"
        answers.append(_exhibition_answer(rec, at.result + 0.002, TmpReturn.APPROVED, info,
                                          exhibitionNo=given))  # fmt: skip
    return answers


def _deletions(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        key, held = _registration_of(session, rec)
        refused = _not_approved_registration(rec, held)
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", refused, "store failed"))
            continue
        _hold(session, key, HELD_WITHDRAWN)
        given = rec.fields.get("exhibitionNo", "")
        answers += [
            _one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored"),
            _one(kind, rec, at.result, TmpReturn.APPROVED, "备案删除审核通过", "approved",
                 exhibitionNo=given),
            _exhibition_answer(rec, at.result + 0.002, TmpReturn.WITHDRAWN,
                               f"备案删除: {rec.fields.get('reason', '') or '企业申请'}",
                               exhibitionNo=given),
        ]  # fmt: skip
    return answers
