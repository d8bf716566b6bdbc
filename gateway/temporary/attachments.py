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

The attachments stay with the gateway: the declaration (TMP109) does not carry them, and the
query lists each with its name, size and digest (docs/temporary.md says why).
"""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import datetime
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.enterprises import Caller
from gateway.core.models import Document
from gateway.core.status import Status, status_of
from gateway.errors import InvalidMessage, NotFound, Violation
from gateway.temporary.codes import EDITABLE, STATUS_NAMES
from gateway.temporary.confirmations import CONFIRMATION
from gateway.temporary.models import TmpConfirmation, TmpConfirmationAttachment

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
    stmt = (
        select(TmpConfirmationAttachment)
        .where(TmpConfirmationAttachment.confirmation_id == confirmation_id)
        .order_by(TmpConfirmationAttachment.id)
    )
    return [view(a) for a in session.scalars(stmt)]


def view(a: TmpConfirmationAttachment) -> dict[str, Any]:
    return {"id": a.id, "file_name": a.file_name, "size": a.size, "sha256": a.sha256,
            "uploaded_at": a.uploaded_at.isoformat()}  # fmt: skip


_log = logging.getLogger(__name__)
