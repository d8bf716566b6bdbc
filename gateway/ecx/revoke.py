"""An approved revoke application (撤销申请单, CEB605/CEB606) withdraws its inventory list
(R-ECX-5): "对于存在问题的清单进行撤销，让企业重新发送" (manual §3.7).

When customs concludes (399) an InvtCancel, the inventory list it names moves to REVOKED in
the receipt's own transaction, with a history entry naming the application and the receipt,
and the enterprise is notified like for any other change (`gateway.history`). REVOKED is final
for receipts but modifiable (R-COM-5 plus REVOKED): the enterprise fixes the list and sends it
again as appType 2.

The list is the same enterprise's inventory whose customs number (invtNo, kept from its
CEB604 receipts) is the one the application names; failing that, the inventory with the
application's own agentCode and copNo (enterprises often give both the same copNo).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import registry
from gateway.core.history import Change, Notifier, Source, record, record_ignored
from gateway.core.models import Document
from gateway.core.status import Status, status_of
from gateway.ecx.status import EcxStatus

log = logging.getLogger(__name__)

#: a newer version of the list is on its way to customs: the revoke concerned the old one
_NEW_VERSION_PENDING = frozenset(
    {Status.SAVED, Status.PENDING_SIGN, Status.SIGNING_FAILED, Status.SIGNED}
)


def withdraw_list(
    session: Session,
    cancel: Document,
    change: Change,
    fields: Mapping[str, str],
    notifier: Notifier | None,
) -> None:
    """`after_change` of the revoke application: on its approval, revoke the list."""
    if change.to is not Status.CONCLUDED:
        return
    invt_no = fields.get("invtNo") or (cancel.customs_numbers or {}).get("invtNo", "")
    target = named_list(session, cancel, invt_no)
    if target is None:
        log.warning(
            "revoke application %s approved for invtNo=%s, but no inventory list of the "
            "enterprise has that number (R-ECX-5)",
            cancel.business_key,
            invt_no,
        )
        return
    revoked = Change(
        EcxStatus.REVOKED,
        Source.CUSTOMS,
        f"revoked by customs: revoke application {cancel.business_key} (document {cancel.id}) "
        f"approved for invtNo={invt_no}: {change.info or ''}",
        change.receipt_id,
        None,  # the application's returnStatus, not one of the list's own receipts
        change.return_time,
    )
    why = _refusal(target)
    if why is not None:
        record_ignored(session, target, revoked, why)
        return
    if change.return_time and (target.last_return_time or "") < change.return_time:
        target.last_return_time = change.return_time  # older receipts of the list stay out
    record(session, target, revoked, notifier)


def named_list(session: Session, cancel: Document, invt_no: str) -> Document | None:
    """The enterprise's live inventory list with customs number `invt_no`, else the one with
    the application's agentCode+copNo; locked like every record a receipt moves."""
    base = select(Document).where(
        Document.kind == "inventory",
        Document.enterprise_id == cancel.enterprise_id,
        Document.status != Status.DELETED.value,
    )
    if invt_no:
        by_number = base.where(Document.customs_numbers["invtNo"].as_string() == invt_no)
        found = session.scalars(by_number.order_by(Document.id.desc()).limit(1).with_for_update())
        first = found.first()
        if first is not None:
            return first
    by_key = base.where(Document.business_key == cancel.business_key)
    return session.scalars(by_key.limit(1).with_for_update()).first()


def _refusal(target: Document) -> str | None:
    inventory = registry.kind(target.kind)  # the list's own kind declares its final states
    current = status_of(target.status)
    if inventory is not None and inventory.is_final(current):
        return f"the inventory list is already {current.value}, a final state (R-ECX-5)"
    if current in _NEW_VERSION_PENDING:
        return f"the inventory list is {current.value}: a newer version is being declared"
    return None
