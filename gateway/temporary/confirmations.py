"""Review confirmations (暂时进出境审核确认, seed 002 §2.1, R-TMP-5) as the gateway keeps them:
the rules of one record (dates, goods lines), the exhibition a confirmation may name, the
rows written with its message, its pre-entry number, what customs' receipts tell of it
(确认申请书编号, 审核备注, 结案日期) and its use of the exhibition.

- 进出境日期 (ieDate) and 复运出/进境日期 (returnDate) are YYYYMMDD; the goods go back after
  they came: returnDate must be later than ieDate (the same day is refused).
- 展览会编号 is optional (goods for a fair, or not); given, it must be the customs number of
  an approved exhibition of the declarer, refused alike otherwise (as the loaned-exhibit
  list's, `loans.approved_exhibition`). A confirmation naming one is a use of it: the
  registration can no longer be applied for deletion (`use_of`, registrations.USAGE_CHECKS).
- Goods lines (货物信息) are typed in, each whole (HS code, name, quantity, unit); declare
  needs at least one.
- Pre-entry number (预录入确认书编号, "filled after the save"): "G" + 主管地海关 + year +
  7 digits, as the manual's examples G0100202000000 / G0101202000000 show; numbered like the
  registration's Z numbers (a transaction lock per prefix on PostgreSQL, the unique index).
"""

from __future__ import annotations

import zlib
from datetime import date, datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.history import Change, Notifier
from gateway.core.kinds import Record, key_text
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status
from gateway.errors import Violation
from gateway.temporary import fields as form
from gateway.temporary import loans
from gateway.temporary.codes import TmpStatus
from gateway.temporary.models import TmpConfirmation, TmpConfirmationAttachment, TmpExhibition
from gateway.temporary.rules import FORM_RULE, REQUIRED_RULE, Where, bound_values, is_declare

CONFIRMATION = "tmp_confirmation"
RULE = "R-TMP-5"  # the confirmation: dates, goods, its exhibition
GOODS_TAG = "ConfirmationGoods"
DOCUMENT_TAG = "ConfirmationDocument"
ATTACHMENT_RULE = "R-COM-6"  # attachments: after the first save, PDF, 4 MB, declared by digest
_HEX = frozenset("0123456789abcdef")
IE_FLAGS = {"I": "暂时进境 (re-exported later)", "E": "暂时出境 (re-imported later)"}


def goods_of(rec: Record) -> list[dict[str, str]]:
    """The record's ConfirmationGoods lines, their leaf values by local name."""
    return _children(rec, GOODS_TAG)


def documents_of(rec: Record) -> list[dict[str, str]]:
    """The attachments the record declares (ConfirmationDocument), by local name."""
    return _children(rec, DOCUMENT_TAG)


def _children(rec: Record, wanted: str) -> list[dict[str, str]]:
    found = []
    for child in rec.element:
        tag = child.tag
        if isinstance(tag, str) and tag.endswith("}" + wanted):
            found.append(
                {
                    leaf.tag[leaf.tag.find("}") + 1 :]: (leaf.text or "").strip()
                    for leaf in child
                    if isinstance(leaf.tag, str)
                }
            )
    return found


def _line_v(
    where: Where, n: int, rule: str, name: str, message: str, value: str, tag: str = GOODS_TAG
) -> Violation:
    field = f"{where.tag}[{where.n}]/{tag}[{n}]/{form.label(name)}"
    return Violation(rule, field, message, value=value)


# --- the rules that need no store ----------------------------------------------------------


def record_rules(rec: Record, where: Where) -> list[Violation]:
    """R-TMP-5 on one record: I/E flag, dates in order, each goods line whole and well formed;
    declare needs at least one line (R-COM-2)."""
    found = _flag(rec, where) + date_problems(rec, where)
    lines = goods_of(rec)
    if is_declare(rec) and not lines:
        found.append(where.v(REQUIRED_RULE, GOODS_TAG, "declare needs at least one goods line",
                             ""))  # fmt: skip
    numbers: list[str] = []
    for n, line in enumerate(lines, start=1):
        found += _line_rules(where, n, line)
        g_no = line.get("gNo", "")
        if g_no and g_no in numbers:
            found.append(_line_v(where, n, RULE, "gNo", "used by another line", g_no))
        numbers.append(g_no)
    return found + _document_rules(rec, where)


def _document_rules(rec: Record, where: Where) -> list[Violation]:
    """Each declared attachment names its digest: 64 lowercase hex digits, once."""
    found, seen = [], set()
    for n, doc in enumerate(documents_of(rec), start=1):
        digest = doc.get("sha256", "")
        if not digest:
            found.append(_line_v(where, n, REQUIRED_RULE, "sha256", "an attached document "
                                 "needs its digest: not filled", "", DOCUMENT_TAG))  # fmt: skip
        elif len(digest) != 64 or not set(digest) <= _HEX:
            found.append(_line_v(where, n, ATTACHMENT_RULE, "sha256", "64 lowercase hex digits "
                                 "(SHA-256)", digest, DOCUMENT_TAG))  # fmt: skip
        elif digest in seen:
            found.append(_line_v(where, n, ATTACHMENT_RULE, "sha256", "declared twice", digest,
                                 DOCUMENT_TAG))  # fmt: skip
        seen.add(digest)
    return found


def document_problems(session: Session, rec: Record, where: Where, saved: bool) -> list[Violation]:
    """R-COM-6 with the store: each declared attachment is one uploaded to this confirmation,
    which needs a first save (`saved`: a live document had its key before this message)."""
    declared = [d.get("sha256", "") for d in documents_of(rec)]
    if not declared:
        return []
    row = row_of(session, rec.fields.get("agentCode", ""), rec.fields.get("copNo", ""))
    if not saved or row is None:
        message = "attachments only after the first save (暂存): none can be declared yet"
        return [_line_v(where, 1, ATTACHMENT_RULE, "sha256", message, declared[0],
                        DOCUMENT_TAG)]  # fmt: skip
    held = set(
        session.scalars(
            select(TmpConfirmationAttachment.sha256).where(
                TmpConfirmationAttachment.confirmation_id == row.id
            )
        )
    )
    return [
        _line_v(
            where,
            n,
            ATTACHMENT_RULE,
            "sha256",
            "not an attachment of this confirmation",
            digest,
            DOCUMENT_TAG,
        )  # fmt: skip
        for n, digest in enumerate(declared, start=1)
        if digest not in held
    ]


def _flag(rec: Record, where: Where) -> list[Violation]:
    flag = rec.fields.get("ieFlag", "")
    if flag and flag not in IE_FLAGS:
        return [where.v(RULE, "ieFlag", "I (temporary import) or E (temporary export)", flag)]
    return []


def date_problems(rec: Record, where: Where) -> list[Violation]:
    """Both dates real YYYYMMDD days, the goods going back after they came."""
    found, days = [], {}
    for name in ("ieDate", "returnDate"):
        value = rec.fields.get(name, "")
        days[name] = _day(value)
        if value and days[name] is None:
            found.append(where.v(FORM_RULE, name, "YYYYMMDD, a real date", value))
    start, end = days["ieDate"], days["returnDate"]
    if start and end and end <= start:
        span = f"{rec.fields['ieDate']}..{rec.fields['returnDate']}"
        found.append(where.v(RULE, "returnDate", "must be after ieDate (进出境日期)", span))
    return found


def _line_rules(where: Where, n: int, line: dict[str, str]) -> list[Violation]:
    found = [
        _line_v(where, n, REQUIRED_RULE, f.name, "a goods line needs it: not filled", "")
        for f in form.CONFIRMATION_GOODS
        if f.need is form.Need.SAVE and not line.get(f.name)
    ]
    hs, qty, g_no, entry = (line.get(k, "") for k in ("hsCode", "qty", "gNo", "entryId"))
    if hs and not (hs.isdigit() and len(hs) == 10):
        found.append(_line_v(where, n, RULE, "hsCode", "10 digits", hs))
    if qty and loans.quantity(qty) is None:
        found.append(_line_v(where, n, RULE, "qty", "a number > 0, at most 5 decimals", qty))
    if g_no and not (g_no.isdigit() and 1 <= int(g_no) <= loans.MAX_LINES):
        found.append(_line_v(where, n, RULE, "gNo", "a whole number 1..999", g_no))
    if entry and not (entry.isdigit() and len(entry) == 18):
        found.append(_line_v(where, n, RULE, "entryId", "18 digits", entry))
    return found


def _day(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


# --- the exhibition ------------------------------------------------------------------------


def exhibition_problems(
    session: Session, ent: Enterprise, rec: Record, where: Where
) -> tuple[loans.Exhibition | None, list[Violation]]:
    """The approved exhibition the record names (None and no problem when it names none)."""
    number = rec.fields.get("exhibitionNo", "")
    if not number:
        return None, []
    found = loans.approved_exhibition(session, ent, number)
    if found is None:
        message = "no approved exhibition of the declarer has this customs number (展览会编号)"
        return None, [where.v(RULE, "exhibitionNo", message, number)]
    closing = str((found.row.fields or {}).get("closeDate", ""))
    crossing = rec.fields.get("ieDate", "")
    if closing and crossing and crossing > closing:  # both YYYYMMDD: text order is date order
        message = f"the exhibition closed on {closing}: goods for it cannot cross later"
        return None, [where.v(RULE, "ieDate", message, f"{crossing} > {closing}")]
    return found, []


# --- the rows ------------------------------------------------------------------------------


def row_of(session: Session, agent_code: str, cop_no: str) -> TmpConfirmation | None:
    stmt = select(TmpConfirmation).where(
        TmpConfirmation.agent_code == agent_code, TmpConfirmation.cop_no == cop_no
    )
    return session.scalar(stmt)


def take(
    session: Session, ent: Enterprise, rec: Record, exhibition: loans.Exhibition | None,
    at: datetime, fresh: bool,
) -> TmpConfirmation:  # fmt: skip
    """Write the confirmation's row for a record that passed every rule; `fresh` when no live
    document had its key (a new pre-entry number)."""
    get = rec.fields.get
    agent, cop, customs = get("agentCode", ""), get("copNo", ""), get("customsCode", "")
    row = row_of(session, agent, cop)
    if row is None or fresh or row.customs_code != customs:
        number = next_pre_entry_no(session, customs, at)
        if row is None:
            row = TmpConfirmation(agent_code=agent, cop_no=cop, pre_entry_no=number)
            session.add(row)
        row.pre_entry_no = number
    if fresh:  # a new confirmation under a key deleted before: nothing of the old one
        row.filled_at, row.declared_at = at, None
        row.review_remarks, row.close_date = "", ""
        if row.id is not None:
            session.execute(
                delete(TmpConfirmationAttachment).where(
                    TmpConfirmationAttachment.confirmation_id == row.id
                )
            )
    bound = bound_values(ent)
    row.enterprise_id, row.customs_code = ent.id, customs
    row.exhibition_id = exhibition.row.id if exhibition else None
    row.exhibition_no = exhibition.number if exhibition else ""
    row.ie_date, row.return_date = get("ieDate", ""), get("returnDate", "")
    row.fields = {
        f.name: rec.fields[f.name]
        for f in form.CONFIRMATION
        if f.name in rec.fields and f.name not in form.CARD_FIELDS
    }
    row.goods = goods_of(rec)
    row.operator_name = bound["operatorName"]
    row.input_code, row.input_name = bound["inputCode"], bound["inputName"]
    row.updated_at = at
    if is_declare(rec):
        row.declared_at = at
    session.flush()  # the next record of the message sees this one's number
    return row


def next_pre_entry_no(session: Session, customs: str, at: datetime) -> str:
    """The next "G" + customs + year + 7-digit number, numbered as the registration's Z
    numbers are (`registrations.next_pre_entry_no`): intakes numbering under one prefix wait
    for each other on PostgreSQL, and the unique index is the last guard."""
    prefix = f"G{customs}{at.astimezone(CHINA_TZ):%Y}"
    if session.get_bind().dialect.name == "postgresql":
        lock = zlib.crc32(f"tmp-pre-entry:{prefix}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    last = session.scalar(
        select(func.max(TmpConfirmation.pre_entry_no)).where(
            TmpConfirmation.pre_entry_no.like(f"{prefix}%")
        )
    )
    number = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{number:07d}"


# --- customs' receipts (the kind's after_change) -------------------------------------------


def after_receipt(
    session: Session, doc: Document, change: Change, receipt: dict[str, str],
    notifier: Notifier | None,
) -> None:  # fmt: skip
    """审核备注 is customs' word on its review (approved or not); 结案日期 comes with 结案."""
    agent, cop = doc.business_key.split("|", 1)  # agentCode is 10 characters, never "|"
    row = row_of(session, agent, cop)
    if row is None:
        return
    if change.to in (TmpStatus.APPROVED, TmpStatus.NOT_APPROVED):
        row.review_remarks = receipt.get("returnInfo", "")
    if change.to is TmpStatus.CASE_CLOSED:
        # no closeDate: the day of customs' returnTime (yyyyMMddHHmmssfff, Beijing time)
        row.close_date = receipt.get("closeDate", "") or (change.return_time or "")[:8]


# --- the confirmation's use of its exhibition (registrations.USAGE_CHECKS) -----------------


def use_of(session: Session, exhibition: TmpExhibition) -> str | None:
    """A confirmation that names the registration, unless the enterprise deleted it."""
    key = TmpConfirmation.agent_code + "|" + TmpConfirmation.cop_no
    stmt = (
        select(TmpConfirmation.cop_no, TmpConfirmation.pre_entry_no)
        .join(Document, (Document.kind == CONFIRMATION) & (Document.business_key == key))
        .where(
            TmpConfirmation.exhibition_id == exhibition.id,
            Document.status != Status.DELETED.value,
        )
        .limit(1)
    )
    found = session.execute(stmt).first()
    if found is None:
        return None
    return f"review confirmation {found.cop_no} ({found.pre_entry_no})"


def key_of(fields: dict[str, str]) -> str:
    return key_text((fields.get("agentCode", ""), fields.get("copNo", "")))
