"""Modification after storage (改单): an inventory list (清单改单, manual 004 §3.3) and a
total/sub waybill list (清单总分单改单, §3.11) customs has stored may be modified; the new
version (appType 2) is signed and sent, and customs answers it (R-ECX-5, R-ECX-6).

Which states allow it, per kind (declared through `DocumentKind.operations`, so that delete
keeps R-COM-5's states: a record customs holds is never deleted):

- an inventory list: R-COM-5's states and revoked, and every state in which customs holds
  it before the release: stored (120), in review (300) or inspection (500), concluded (399).
  The 清单改单 page finds lists by 入库时间 and 业务状态, so a stored list in any of those
  states; "确认修改吗？" → "已重新生成新的清单": customs takes the new version as a new list,
  compares the four documents again (R-ECX-2) and reviews it from the start. The manual
  names no state that refuses it; once customs has released the goods (800) or closed the
  list (899, finalised after), its decision on the declared content is taken and the list
  may go into a summary (R-ECX-8): refused, as customs refuses a revoke then (§3.7, the
  simulator's reading, `gateway/ecx/sim/lifecycle.py`);
- a total/sub waybill list: R-COM-5's states and stored (120), its last state (§3.11 "可对
  可编辑字段进行修改，申报").

What a modification may not change: the business key (it names the record: another key is
another record) and the grey, system-filled fields, "置灰字段无法修改（反填信息自动录入）"
(§3.2): 预录入编号 (preNo) and 海关清单编号 (invtNo). A modification that names one of them
other than the number customs gave the record is refused (R-ECX-5), naming the field. And a
modification of a record customs holds is declared (appStatus 2), not saved: a saved draft
is deletable (R-COM-5), and customs would go on holding the record the gateway deleted.

Customs (the simulator, `gateway/ecx/sim/lifecycle.py` `refusal`) takes the new version in
the same states and refuses one of a released or closed list, answering with the list's
state and the reason, so the record stays released (or closed) with why in its history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.codes import AppStatus, AppType
from gateway.core.kinds import DocumentKind, Record, key_text
from gateway.core.models import Document, Enterprise
from gateway.core.status import MODIFIABLE, Status
from gateway.ecx.status import EcxStatus
from gateway.errors import Violation

#: R-ECX-5: customs holds the list and has not released it
HELD_UNRELEASED = frozenset(
    {Status.STORED, Status.MANUAL_REVIEW, Status.INSPECTION, Status.CONCLUDED}
)
#: 清单改单 (§3.3): where an inventory list may be modified
INVENTORY_MODIFIABLE = MODIFIABLE | {EcxStatus.REVOKED} | HELD_UNRELEASED
#: 清单总分单改单 (§3.11): where a total/sub waybill list may be modified
WAYBILL_TOTAL_MODIFIABLE = MODIFIABLE | {Status.STORED}

#: the states in which customs holds the record: a modification there is declared at once
HELD = frozenset(s.value for s in HELD_UNRELEASED)

#: the grey fields customs fills (§3.2), by kind: field → its name in the manual
FIXED_NUMBERS = {
    "inventory": {"preNo": "预录入编号", "invtNo": "海关清单编号"},
    "waybill_total": {"preNo": "预录入编号"},
}


def fixed_numbers(session: Session, ent: Enterprise, checked: Any, at: datetime) -> list[Violation]:
    """The `store_checks` of a kind with grey fields: a modification keeps the numbers
    customs gave the record it modifies."""
    kind: DocumentKind = checked.kind
    fixed = FIXED_NUMBERS.get(kind.name, {})
    modified = [r for r in checked.records if r.app_type == AppType.MODIFY]
    if not fixed or not modified:
        return []
    scope = ent.id if kind.key_per_owner else 0
    keys = [key_text(r.business_key) for r in modified]
    rows = session.execute(
        select(Document.business_key, Document.customs_numbers, Document.status).where(
            Document.kind == kind.name,
            Document.business_key.in_(keys),
            Document.key_scope == scope,
            Document.enterprise_id == ent.id,
            Document.status != Status.DELETED.value,
        )
    ).all()
    given = {key: numbers or {} for key, numbers, _ in rows}
    held = {key for key, _, status in rows if status in HELD}
    problems: list[Violation] = []
    for rec in modified:
        key = key_text(rec.business_key)
        if key in held and rec.app_status != AppStatus.DECLARE:
            problems.append(_draft(kind, rec))
        numbers = given.get(key, {})
        for name, title in fixed.items():
            problem = _changed(kind, rec, name, title, numbers.get(name, ""))
            if problem is not None:
                problems.append(problem)
    return problems


def _where(kind: DocumentKind, rec: Record) -> str:
    key = ", ".join(f"{f}={v}" for f, v in zip(kind.key_fields, rec.business_key, strict=True))
    return f"{kind.record_tag}({key})"


def _draft(kind: DocumentKind, rec: Record) -> Violation:
    return Violation(
        rule="R-COM-5",
        field=f"{_where(kind, rec)}/appStatus",
        message=f"customs holds this {kind.name}: its modification is declared (appStatus 2), "
        "not saved as a draft, which could be deleted while customs still holds the record",
        value=rec.app_status,
    )


def _changed(
    kind: DocumentKind, rec: Record, name: str, title: str, assigned: str
) -> Violation | None:
    value = rec.fields.get(name, "")
    if not value or not assigned or value == assigned:
        return None
    return Violation(
        rule="R-ECX-5",
        field=f"{_where(kind, rec)}/{name}",
        message=f"{title} ({name}) is filled by customs and cannot be modified "
        f"(置灰字段无法修改, manual 004 §3.2): customs gave this {kind.name} {assigned}; "
        "leave it empty or send that number",
        value=value,
    )
