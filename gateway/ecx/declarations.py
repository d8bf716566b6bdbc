"""B2B export customs declarations (报关单) as customs reports them (manual 004 §6.1, R-ECX-9).

"B2B报关单查询" lists the customs declarations an enterprise imported through the
cross-border system or declared in 货物申报: not inventory lists, but 报关单, each known by
its 统一编号 (seqNo, 18 characters, given when customs takes it) and, once assigned, its
报关单号 (entryId, 18 digits). The CEB standard has no message for them, so customs tells
the gateway with a message of this project's own design, ECX910Message
(`gateway/ecx/xsd/ecx_declarations.xsd`, docs/b2b.md): one EntryDeclaration per
declaration, the whole of it as customs holds it now, sent when customs stores an inventory
list with trade mode 9710 or 9810 and whenever the declaration changes.

It comes on the receipts channel and is trusted only from customs (R-COM-4: the core checks
the publishing broker user, the SenderId and the ReceiverIds before this handler sees it,
gateway/core/receipt_trust.py). `handle_envelope` validates it against its XSD, keeps the
raw message as a receipt (msg_type ECX910Message, for ops and audit, like a CEB792), and
upserts each declaration by seqNo for the enterprise the envelope is addressed to — a
declaration already held for another enterprise is not moved, and an older update (by
updateTime) does not overwrite a newer one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lxml import etree
from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway import xmlsafe
from gateway.codes import CHINA_TZ
from gateway.core.models import Base, Enterprise, Id, Receipt, UTCDateTime, utcnow
from gateway.errors import InvalidMessage, Violation
from schemas import loader
from transports.envelope import unwrap

log = logging.getLogger(__name__)

ECX_NS = "urn:customs-gateway:ecx:1"
MESSAGE_TYPE = "ECX910Message"
RULE = "R-ECX-9"


class EntryStatus(StrEnum):
    """业务状态 of a declaration: the wire codes customs uses for inventory lists."""

    RETURNED = "100"  # 退单
    STORED = "120"  # 入库
    CONCLUDED = "399"  # 审结
    RELEASED = "800"  # 放行
    CLOSED = "899"  # 结关


class SummaryState(StrEnum):
    """汇总状态, as the export lists' filter names it."""

    UNSUMMARISED = "unsummarised"
    DECLARED = "declared"
    SUMMARISED = "summarised"


class EntryDeclaration(Base):
    """One customs declaration customs reported, owned by the enterprise it was sent to."""

    __tablename__ = "ecx_declarations"
    __table_args__ = (Index("ix_ecx_declarations_stored", "enterprise_id", "stored_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    seq_no: Mapped[str] = mapped_column(String(18), unique=True)  # 统一编号
    entry_id: Mapped[str | None] = mapped_column(String(18))  # 报关单号
    customs_code: Mapped[str] = mapped_column(String(4))  # 申报地海关
    ie_port: Mapped[str] = mapped_column(String(4))  # 出境关别
    trade_mode: Mapped[str] = mapped_column(String(4))  # 贸易方式
    business_type: Mapped[str] = mapped_column(String(1))  # 业务类型 (statisticsFlag)
    status: Mapped[str] = mapped_column(String(3))  # 业务状态
    summary_state: Mapped[str] = mapped_column(String(12))  # 汇总状态
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)  # 申报日期
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)  # 入库时间
    customs_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    invt_no: Mapped[str] = mapped_column(String(200))
    cop_no: Mapped[str] = mapped_column(String(200))
    consignor_code: Mapped[str] = mapped_column(String(200))
    #: the rest of the head (names, totals, returnInfo) and the lines, as customs sent them
    head: Mapped[dict[str, Any]] = mapped_column(JSON)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- the message -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """One EntryDeclaration of an ECX910Message."""

    head: dict[str, str]
    lines: list[dict[str, str]]


def _fields(element: etree._Element) -> dict[str, str]:
    return {
        etree.QName(c).localname: (c.text or "").strip() for c in element if isinstance(c.tag, str)
    }


def read(data: bytes) -> list[Reported]:
    """The declarations of a valid ECX910Message; InvalidMessage with the XSD's errors."""
    root = xmlsafe.parse(data).getroot()
    errors = loader.validate(root, MESSAGE_TYPE)
    if errors:
        raise InvalidMessage(errors)
    out = []
    for decl in root.iterchildren(f"{{{ECX_NS}}}EntryDeclaration"):
        head = _fields(decl.find(f"{{{ECX_NS}}}EntryHead"))
        lines = [_fields(e) for e in decl.iterchildren(f"{{{ECX_NS}}}EntryList")]
        out.append(Reported(head, lines))
    return out


def build(declarations: Sequence[Reported], guid: str) -> bytes:
    """An ECX910Message (the simulated customs sends it)."""
    root = etree.Element(f"{{{ECX_NS}}}{MESSAGE_TYPE}", nsmap={"ecx": ECX_NS})
    root.set("guid", guid)
    root.set("version", "1.0")
    for reported in declarations:
        decl = etree.SubElement(root, f"{{{ECX_NS}}}EntryDeclaration")
        _add(decl, "EntryHead", reported.head.items())
        for line in reported.lines:
            _add(decl, "EntryList", line.items())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _add(parent: etree._Element, name: str, fields: Any) -> None:
    element = etree.SubElement(parent, f"{{{ECX_NS}}}{name}")
    for key, value in fields:
        if value is not None and value != "":
            etree.SubElement(element, f"{{{ECX_NS}}}{key}").text = str(value)


def _time(text: str) -> datetime:
    """14 digits, Beijing time (the XSD checked the digits)."""
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=CHINA_TZ)
    except ValueError:
        problem = Violation(RULE, "EntryHead", f"{text} is not a time")
        raise InvalidMessage([problem]) from None


# --- applying it -----------------------------------------------------------------------------

_COLUMNS = {
    "seqNo", "entryId", "customsCode", "iePort", "tradeMode", "statisticsFlag", "entryStatus",
    "summaryState", "declTime", "storeTime", "updateTime", "invtNo", "copNo", "consignorCode",
}  # fmt: skip


def apply(session: Session, owner: int, reported: Reported, receipt_id: int) -> str:
    """Upsert one declaration for enterprise `owner`: 'stored', 'updated', or why not."""
    head = reported.head
    row = session.scalar(
        select(EntryDeclaration).where(EntryDeclaration.seq_no == head["seqNo"]).with_for_update()
    )
    updated = _time(head["updateTime"])
    if row is not None and row.enterprise_id != owner:
        return f"seqNo {head['seqNo']}: held for another enterprise ({RULE})"
    if row is not None and row.customs_updated_at > updated:
        return f"seqNo {head['seqNo']}: older than the update held"
    outcome = "updated" if row is not None else "stored"
    if row is None:
        row = EntryDeclaration(enterprise_id=owner, seq_no=head["seqNo"])
        session.add(row)
    row.entry_id = head.get("entryId") or row.entry_id
    row.customs_code, row.ie_port = head["customsCode"], head["iePort"]
    row.trade_mode, row.business_type = head["tradeMode"], head["statisticsFlag"]
    row.status, row.summary_state = head["entryStatus"], head["summaryState"]
    row.declared_at, row.stored_at = _time(head["declTime"]), _time(head["storeTime"])
    row.customs_updated_at = updated
    row.invt_no, row.cop_no = head["invtNo"], head["copNo"]
    row.consignor_code = head["consignorCode"]
    row.head = {k: v for k, v in head.items() if k not in _COLUMNS and k != "guid"}
    row.lines, row.receipt_id, row.updated_at = reported.lines, receipt_id, utcnow()
    return outcome


def _owner(session: Session, receiver_ids: Sequence[str]) -> int | None:
    """The one enterprise of this gateway the envelope is addressed to."""
    if not receiver_ids:
        return None
    found = list(session.scalars(
        select(Enterprise.id).where(Enterprise.dxp_id.in_(list(receiver_ids))).limit(2)
    ))  # fmt: skip
    return found[0] if len(found) == 1 else None


def take(session: Session, data: bytes, receiver_ids: Sequence[str],
         cop_msg_id: str | None) -> Receipt:  # fmt: skip
    """Keep the message as a receipt and apply its declarations (in the caller's
    transaction); the receipt's outcome says what happened to each."""
    row = Receipt(raw=data, sha256=hashlib.sha256(data).hexdigest(), msg_type=MESSAGE_TYPE,
                  cop_msg_id=cop_msg_id, parsed={}, outcome="unmatched")  # fmt: skip
    session.add(row)
    session.flush()
    try:
        reported = read(data)
    except InvalidMessage as exc:
        row.outcome, row.error = "unreadable", exc.message[:2000]
        return row
    owner = _owner(session, receiver_ids)
    if owner is None:
        row.error = f"ReceiverId: addressed to no single enterprise of this gateway ({RULE})"
        return row
    results = {r.head["seqNo"]: apply(session, owner, r, row.id) for r in reported}
    row.parsed = {"declarations": results}
    done = sum(v in ("stored", "updated") for v in results.values())
    row.outcome = "matched" if done == len(results) else "partly_matched" if done else "unmatched"
    return row


def handle_envelope(db: Any, body: bytes) -> bool:
    """The system's reference-data handler: True when `body` carried an ECX910Message."""
    if f">{MESSAGE_TYPE}<".encode() not in body[:4096]:
        return False  # the envelope header names the type; receipts pass by untouched
    try:
        env = unwrap(body)
    except InvalidMessage:
        return False
    if env.msg_type != MESSAGE_TYPE:
        return False
    with db.session() as session:
        digest = hashlib.sha256(env.data).hexdigest()
        if session.scalar(select(Receipt.id).where(Receipt.sha256 == digest).limit(1)):
            return True  # a redelivery
        row = take(session, env.data, env.receiver_ids, env.cop_msg_id[:255])
        log.info("B2B declarations from customs: %s %s", row.outcome, row.parsed)
    return True


def as_dict(row: EntryDeclaration, *, detail: bool = False) -> dict[str, Any]:
    """The query's columns (and with `detail`, the 报关单详情: every head field and line)."""
    out: dict[str, Any] = {
        "seqNo": row.seq_no, "entryId": row.entry_id, "customsCode": row.customs_code,
        "iePort": row.ie_port, "tradeMode": row.trade_mode, "statisticsFlag": row.business_type,
        "entryStatus": row.status, "summaryState": row.summary_state,
        "declared_at": row.declared_at.astimezone(CHINA_TZ).isoformat(),
        "stored_at": row.stored_at.astimezone(CHINA_TZ).isoformat(),
        "invtNo": row.invt_no, "copNo": row.cop_no, "consignorCode": row.consignor_code,
        "consignorName": (row.head or {}).get("consignorName", ""),
    }  # fmt: skip
    if detail:
        out["head"] = dict(row.head or {})
        out["lines"] = list(row.lines or [])
        out["receipt_id"] = row.receipt_id
    return out


def statuses() -> Mapping[str, str]:
    return {s.value: s.name.lower() for s in EntryStatus}
