"""A confirmation's attached documents (随附单证目录, seed 002 §2.1, R-COM-6).

"上传附件必须为 PDF 格式。上传文件不能超过 4M", and only once the record is saved. So:
- an attachment belongs to a saved confirmation of the caller; another enterprise's
  confirmation answers like a missing one (404), and one with no saved confirmation behind it
  (never saved, or deleted) is refused naming the rule;
- it is added while the confirmation may be edited (暂存, 发往海关失败, 海关入库失败,
  审核不通过): once declared it is customs' to review, as the form is (R-TMP-3);
- a PDF by its content, never its name: the `%PDF-` header at the start, the `%%EOF` trailer
  at the end, and pypdf must read its page tree (a renamed text file, a truncated PDF fail);
- at most 4 MB = 4 × 1024 × 1024 bytes; one byte more is refused;
- kept with its SHA-256 digest (hex); the same file twice is the one attachment.

What customs receives: each attachment, once uploaded, goes to customs as a message of its own
(TMP113 `ConfirmationAttachment`: the key, digest, name, size and the PDF in base64), through
the core's intake like any declaration — signed with the enterprise's key, queued, tracked as
a document `tmp_confirmation_attachment` answered by TMP114 — before the TMP109 that names it
by digest. The intake hook (`delivery_problems`) takes a TMP113 only for a file uploaded to
that saved confirmation of the declarer, its bytes matching the digest. The query lists each
attachment with its name, size, digest and delivery status; its owner downloads it back
(`download`). docs/temporary.md says why a message of its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
from datetime import datetime
from typing import Any

from lxml import etree
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ, AppStatus, AppType
from gateway.core.enterprises import Caller
from gateway.core.kinds import Record
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status, status_of
from gateway.errors import InvalidMessage, NotFound, Violation
from gateway.temporary.codes import EDITABLE, STATUS_NAMES, TMP_NS
from gateway.temporary.confirmations import CONFIRMATION
from gateway.temporary.models import TmpConfirmation, TmpConfirmationAttachment
from gateway.temporary.rules import Where

ATTACHMENT = "tmp_confirmation_attachment"
RULE = "R-COM-6"
FIELD = "attachment"
MAX_BYTES = 4 * 1024 * 1024
MAX_NAME = 200
#: the trailer may be followed by a line end or a little padding; look this far back
_TAIL = 1024


def too_large(size: int | None = None) -> Violation:
    shown = f"{size} bytes" if size is not None else "more"
    return Violation(RULE, FIELD, f"at most 4 MB ({MAX_BYTES} bytes) a file: {shown}")


def pdf_problems(data: bytes) -> list[Violation]:
    """Why `data` is not a PDF of at most 4 MB (empty: it is one)."""
    if len(data) > MAX_BYTES:
        return [too_large(len(data))]
    if not data.startswith(b"%PDF-"):
        return [Violation(RULE, FIELD, "PDF only: no %PDF- header", value=data[:8].hex())]
    if b"%%EOF" not in data[-_TAIL:]:
        return [Violation(RULE, FIELD, "PDF only: no %%EOF trailer (truncated?)")]
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        # pypdf raises its own errors and, on damaged files, Python's: either way no PDF
        return [Violation(RULE, FIELD, f"PDF only: unreadable ({type(exc).__name__})")]
    if pages < 1:
        return [Violation(RULE, FIELD, "PDF only: no page")]
    return []


def _confirmation(
    session: Session, caller: Caller, doc_id: int
) -> tuple[TmpConfirmation, Document]:
    """The caller's confirmation by its document id; another's or none: 404 alike."""
    doc = session.get(Document, doc_id)
    mine = doc is not None and (caller.is_admin or doc.enterprise_id == caller.enterprise_id)
    if doc is None or not mine or doc.kind != CONFIRMATION:
        raise NotFound(f"no review confirmation {doc_id}")
    if status_of(doc.status) is Status.DELETED:
        raise InvalidMessage([Violation(RULE, FIELD, "attachments only to a saved (暂存) "
                                        "confirmation: this one was deleted")])  # fmt: skip
    agent, cop = doc.business_key.split("|", 1)
    row = session.scalar(
        select(TmpConfirmation).where(
            TmpConfirmation.agent_code == agent, TmpConfirmation.cop_no == cop
        )
    )
    if row is None:  # a document whose intake wrote no row: never saved as a confirmation
        raise NotFound(f"no review confirmation {doc_id}")
    return row, doc


def find(session: Session, caller: Caller, agent_code: str, cop_no: str) -> int:
    """The document id of the caller's saved confirmation (agentCode, copNo): before the
    first save there is none to attach to (R-COM-6)."""
    stmt = select(Document.id).where(
        Document.kind == CONFIRMATION,
        Document.business_key == f"{agent_code}|{cop_no}",
        Document.status != Status.DELETED.value,
    )
    if not caller.is_admin:
        stmt = stmt.where(Document.enterprise_id == caller.enterprise_id)
    doc_id = session.scalar(stmt)
    if doc_id is None:
        message = "attachments only after the first save (暂存): no saved confirmation"
        raise InvalidMessage([Violation(RULE, "copNo", message, value=cop_no)])
    return doc_id


def add(
    session: Session, caller: Caller, doc_id: int, file_name: str, data: bytes, at: datetime
) -> dict[str, Any]:
    """Attach a PDF to a saved confirmation the caller may still edit; its view."""
    row, doc = _confirmation(session, caller, doc_id)
    status = status_of(doc.status)
    problems = []
    if status not in EDITABLE:
        shown = f"{status.value} ({STATUS_NAMES.get(status, status.value)})"
        problems.append(Violation("R-TMP-3", FIELD, f"the confirmation is {shown}: attachments "
                                  "only while it may be edited"))  # fmt: skip
    name = (file_name or "").strip()
    if not name or len(name) > MAX_NAME:
        problems.append(Violation(RULE, "file_name", f"1..{MAX_NAME} characters", value=name[:20]))
    problems += pdf_problems(data)
    if problems:
        raise InvalidMessage(problems)
    digest = hashlib.sha256(data).hexdigest()
    found = session.scalar(
        select(TmpConfirmationAttachment).where(
            TmpConfirmationAttachment.confirmation_id == row.id,
            TmpConfirmationAttachment.sha256 == digest,
        )
    )
    if found is None:
        found = TmpConfirmationAttachment(confirmation_id=row.id, file_name=name, size=len(data),
                                          sha256=digest, content=data, uploaded_at=at)  # fmt: skip
        session.add(found)
        session.flush()
        _log.info("attachment %s (%d bytes) to confirmation %s", digest, len(data), doc.id)
    return view(found)


def listed(session: Session, confirmation_id: int) -> list[dict[str, Any]]:
    """The confirmation's attachments, each with its delivery to customs (the TMP113's
    document id and status: sent, stored — customs has it — or store_failed)."""
    stmt = (
        select(TmpConfirmationAttachment)
        .where(TmpConfirmationAttachment.confirmation_id == confirmation_id)
        .order_by(TmpConfirmationAttachment.id)
    )
    found = list(session.scalars(stmt))
    conf = session.get(TmpConfirmation, confirmation_id)
    out = []
    for a in found:
        doc = _delivery_document(session, conf, a.sha256) if conf is not None else None
        delivery = {"document_id": doc.id, "status": doc.status} if doc is not None else None
        out.append({**view(a), "delivery": delivery})
    return out


def view(a: TmpConfirmationAttachment) -> dict[str, Any]:
    return {"id": a.id, "file_name": a.file_name, "size": a.size, "sha256": a.sha256,
            "uploaded_at": a.uploaded_at.isoformat()}  # fmt: skip


# --- download (its owner only) -------------------------------------------------------------


def download(
    session: Session, caller: Caller, doc_id: int, attachment_id: int
) -> tuple[str, bytes]:
    """(file name, bytes) of an attachment of the caller's confirmation; another
    enterprise's confirmation, or an attachment not of this one, answers 404 alike."""
    row, _doc = _confirmation(session, caller, doc_id)
    found = session.get(TmpConfirmationAttachment, attachment_id)
    if found is None or found.confirmation_id != row.id:
        raise NotFound(f"no attachment {attachment_id} of review confirmation {doc_id}")
    return found.file_name, found.content


def find_attachment(session: Session, doc_id: int, sha256: str) -> int:
    """The id of the attachment with this digest of confirmation `doc_id` (the CLI's way)."""
    doc = session.get(Document, doc_id)
    agent, cop = doc.business_key.split("|", 1) if doc is not None else ("", "")
    stmt = (
        select(TmpConfirmationAttachment.id)
        .join(TmpConfirmation, TmpConfirmation.id == TmpConfirmationAttachment.confirmation_id)
        .where(TmpConfirmation.agent_code == agent, TmpConfirmation.cop_no == cop,
               TmpConfirmationAttachment.sha256 == sha256)
    )  # fmt: skip
    found = session.scalar(stmt)
    if found is None:
        raise NotFound(f"no attachment {sha256} of review confirmation {doc_id}")
    return found


# --- delivery to customs (TMP113) ----------------------------------------------------------


def _delivery_document(session: Session, conf: TmpConfirmation, sha256: str) -> Document | None:
    """The live TMP113 document of this file of this confirmation, if it was sent."""
    stmt = select(Document).where(
        Document.kind == ATTACHMENT,
        Document.business_key == f"{conf.agent_code}|{conf.cop_no}|{sha256}",
        Document.status != Status.DELETED.value,
    )
    return session.scalar(stmt)


def message(ent: Enterprise, conf: TmpConfirmation, a: TmpConfirmationAttachment,
            at: datetime, again: bool = False) -> bytes:  # fmt: skip
    """The TMP113 carrying attachment `a` of `conf`, from the enterprise (`again`: sent
    anew, appType 2, after customs could not take it or the sending failed)."""
    root = etree.Element(f"{{{TMP_NS}}}TMP113Message", nsmap={"tmp": TMP_NS})
    root.set("guid", _guid())
    root.set("version", "1.0")
    record = etree.SubElement(root, f"{{{TMP_NS}}}ConfirmationAttachment")
    values = (
        ("guid", _guid()), ("appType", (AppType.MODIFY if again else AppType.ADD).value),
        ("appTime", at.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")),
        ("appStatus", AppStatus.DECLARE.value), ("agentCode", conf.agent_code),
        ("copNo", conf.cop_no), ("sha256", a.sha256), ("fileName", a.file_name),
        ("fileSize", str(a.size)), ("content", base64.b64encode(a.content).decode("ascii")),
    )  # fmt: skip
    for name, value in values:
        etree.SubElement(record, f"{{{TMP_NS}}}{name}").text = value
    transfer = etree.SubElement(root, f"{{{TMP_NS}}}BaseTransfer")
    for name, value in (("copCode", ent.code), ("copName", ent.name), ("dxpMode", "DXP"),
                        ("dxpId", ent.dxp_id)):  # fmt: skip
        etree.SubElement(transfer, f"{{{TMP_NS}}}{name}").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _guid() -> str:
    import uuid

    return str(uuid.uuid4()).upper()


def deliver(gateway: Any, attachment_id: int, channel: str, at: datetime) -> dict[str, Any]:
    """Send attachment `attachment_id` to customs (TMP113) through the core's intake, unless
    it was sent already and not refused (its live document answers); its delivery
    {document_id, status}.
    Called once the upload is committed: the intake hook reads the attachment's row."""
    with gateway.db.session() as session:
        a = session.get(TmpConfirmationAttachment, attachment_id)
        conf = session.get(TmpConfirmation, a.confirmation_id) if a is not None else None
        if a is None or conf is None:
            raise NotFound(f"no attachment {attachment_id}")
        sent = _delivery_document(session, conf, a.sha256)
        again = sent is not None and status_of(sent.status) in EDITABLE
        if sent is not None and not again:
            return {"document_id": sent.id, "status": sent.status}
        ent = session.get(Enterprise, conf.enterprise_id)
        assert ent is not None
        code, data = ent.code, message(ent, conf, a, at, again)
    result = gateway.intake.submit(code, data, channel)
    (doc,) = result.documents
    _log.info("attachment %s sent to customs as document %s", attachment_id, doc.id)
    return {"document_id": doc.id, "status": doc.status}


def delivery_problems(
    session: Session, ent: Enterprise, rec: Record, where: Where
) -> list[Violation]:
    """R-COM-6 for a TMP113: sent (appType 1, appStatus 2), for a file uploaded to this saved
    confirmation of the declarer, its bytes the digest's and the size's."""
    get = rec.fields.get
    if rec.app_type not in (AppType.ADD, AppType.MODIFY) or rec.app_status != AppStatus.DECLARE:
        text = "an attachment is sent whole: appType 1 (2 to send it again), appStatus 2"
        return [where.v(RULE, "appType", text, f"{rec.app_type}/{rec.app_status}")]
    stmt = (
        select(TmpConfirmationAttachment)
        .join(TmpConfirmation, TmpConfirmation.id == TmpConfirmationAttachment.confirmation_id)
        .where(TmpConfirmation.enterprise_id == ent.id,
               TmpConfirmation.agent_code == get("agentCode", ""),
               TmpConfirmation.cop_no == get("copNo", ""),
               TmpConfirmationAttachment.sha256 == get("sha256", ""))
    )  # fmt: skip
    found = session.scalar(stmt)
    if found is None:
        text = "no file with this digest uploaded to a saved confirmation of the declarer"
        return [where.v(RULE, "sha256", text, get("sha256", ""))]
    try:
        data = base64.b64decode(get("content", ""), validate=True)
    except (binascii.Error, ValueError):
        return [where.v(RULE, "content", "base64 of the file", "")]
    if hashlib.sha256(data).hexdigest() != found.sha256 or str(len(data)) != get("fileSize"):
        return [where.v(RULE, "content", "not the uploaded file's bytes (digest or size)", "")]
    return []


_log = logging.getLogger(__name__)
