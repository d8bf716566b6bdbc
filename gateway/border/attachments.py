"""随附单证 of an entry declaration (进境申报单's attachments tab, R-BDR-4): PDFs the
declarant uploads at the terminal before declaring, named in the form by their digest.

The manual gives no attachment fields or limits (border.md §4.2); the common rule R-COM-6
(PDF only, at most 4 MB, judged by content) is applied. An upload belongs to the declarant
(the session's person in that role); the form's `Attachment` lines must each name one of
theirs by sha256 with its size (the intake hook checks it, `problems`), so the signed
message binds the files customs may ask for. The files stay with the gateway (downloadable
by their owner); customs receives their digests.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.border.identity import Declarant
from gateway.border.models import BrdAttachment
from gateway.core.models import utcnow
from gateway.errors import InvalidMessage, NotFound, Violation

RULE = "R-COM-6"
FIELD = "Attachment"
MAX_BYTES = 4 * 1024 * 1024
MAX_NAME = 100
#: the %%EOF trailer is looked for in the last bytes (incremental saves append after it)
_TAIL = 2048


def too_large(size: int | None = None) -> Violation:
    shown = f"{size} bytes" if size is not None else "more"
    return Violation(RULE, FIELD, f"at most 4 MB ({MAX_BYTES} bytes) a file: {shown}")


def pdf_problems(data: bytes) -> list[Violation]:
    """Why `data` is not a PDF of at most 4 MB, by its content (empty: it is one)."""
    if len(data) > MAX_BYTES:
        return [too_large(len(data))]
    if not data.startswith(b"%PDF-"):
        return [Violation(RULE, FIELD, "PDF only: no %PDF- header", value=data[:8].hex())]
    if b"%%EOF" not in data[-_TAIL:]:
        return [Violation(RULE, FIELD, "PDF only: no %%EOF trailer (truncated?)")]
    try:
        pages = len(PdfReader(io.BytesIO(data), strict=False).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        return [Violation(RULE, FIELD, f"PDF only: unreadable ({type(exc).__name__})")]
    return [] if pages else [Violation(RULE, FIELD, "PDF only: no page")]


def upload(
    session: Session, who: Declarant, file_name: str, doc_type: str, data: bytes
) -> dict[str, Any]:
    """Keep one PDF of the declarant's; the `Attachment` line to put in the form."""
    problems = pdf_problems(data)
    name = file_name.strip()
    if not name or len(name) > MAX_NAME:
        problems.append(Violation(RULE, f"{FIELD}/fileName", f"1 to {MAX_NAME} characters"))
    if not doc_type.strip() or len(doc_type) > 10:
        problems.append(Violation(RULE, f"{FIELD}/docType", "1 to 10 characters"))
    if problems:
        raise InvalidMessage(problems)
    digest = hashlib.sha256(data).hexdigest()
    row = _mine(session, who.id_number, who.role.value, digest)
    if row is None:
        row = BrdAttachment(
            id_number=who.id_number,
            declarant_type=who.role.value,
            sha256=digest,
            size=len(data),
            content=data,
            created_at=utcnow(),
        )
        session.add(row)
    row.file_name, row.doc_type = name, doc_type.strip()
    session.flush()
    return {
        "docType": row.doc_type,
        "fileName": row.file_name,
        "sha256": digest,
        "size": str(len(data)),
    }


def _mine(session: Session, id_number: str, role: str, digest: str) -> BrdAttachment | None:
    return session.scalar(
        select(BrdAttachment).where(
            BrdAttachment.id_number == id_number,
            BrdAttachment.declarant_type == role,
            BrdAttachment.sha256 == digest,
        )
    )


def problems(session: Session, record: str, values: Mapping[str, Any]) -> list[Violation]:
    """Each `Attachment` line names an upload of this declarant, with its size (R-COM-6)."""
    head = values.get("head", {})
    found = []
    for n, line in enumerate(values.get("attachments") or [], start=1):
        row = _mine(
            session, head.get("idNumber", ""), head.get("declarantType", ""), line.get("sha256", "")
        )
        where = f"{record}/Attachment[{n}]/sha256"
        if row is None:
            found.append(
                Violation(
                    RULE, where, "not a file this declarant uploaded", value=line.get("sha256")
                )
            )
        elif str(row.size) != line.get("size"):
            found.append(
                Violation(
                    RULE,
                    f"{record}/Attachment[{n}]/size",
                    f"the file has {row.size} bytes",
                    value=line.get("size"),
                )
            )
    return found


def download(session: Session, who: Declarant, digest: str) -> tuple[str, bytes]:
    row = _mine(session, who.id_number, who.role.value, digest)
    if row is None:
        raise NotFound(f"no attachment {digest[:12]}… of this declarant")
    return row.file_name, bytes(row.content)
