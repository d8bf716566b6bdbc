"""Extensions (暂时进出境货物延期申报, seed 002 §2.3, R-TMP-6): the rules of one record, the
confirmation it extends, the rows written with its message, its pre-entry number and what
customs' answer does to the confirmation. The manual's section has no body: the decisions are
in docs/temporary.md.

- 确认申请书编号 (confirmNo) names the confirmation: customs' number of an approved (or
  overdue, R-TMP-7) confirmation of the declarer. Unknown, another's and one in any other
  state are refused alike (field confirmNo, R-TMP-6): the sender learns nothing of others.
- 延期申请期限 (extendDate) is YYYYMMDD, later than the confirmation's current 复运出/进境日期
  (the same day is no extension: refused).
- Pre-entry number (预录入延期编号): "Y" + 申请海关 + year + 7 digits, as the manual's pattern
  says, numbered like the registration's Z and the confirmation's G numbers.
- Customs' approval gives 海关延期审核允许时间 (allowedDate), which may be earlier than asked
  but never earlier than the current date nor later than the confirmation's ieDate + 1 year
  (`MAX_DAYS`, the simulated customs' maximum); it becomes the confirmation's new date, and
  an overdue confirmation is approved again, watched by the deadline job for the new date.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.history import Change, Notifier, Source, record
from gateway.core.kinds import Record, key_text
from gateway.core.models import Document, Enterprise, utcnow
from gateway.core.status import status_of
from gateway.errors import Violation
from gateway.temporary import fields as form
from gateway.temporary.codes import OPEN, TmpStatus
from gateway.temporary.confirmations import CONFIRMATION
from gateway.temporary.models import TmpConfirmation, TmpExtension
from gateway.temporary.rules import FORM_RULE, Where, bound_values, is_declare

EXTENSION = "tmp_extension"
RULE = "R-TMP-6"
#: the confirmation's states an extension may name: approved, or overdue (its remedy)
EXTENDABLE = frozenset({TmpStatus.APPROVED, TmpStatus.RETURN_OVERDUE})
#: the latest date customs allows: the goods' I/E date plus this many days (one year)
MAX_DAYS = 365


def key_of(fields: dict[str, str]) -> str:
    return key_text((fields.get("agentCode", ""), fields.get("copNo", "")))


def record_rules(rec: Record, where: Where) -> list[Violation]:
    """The asked date is a real YYYYMMDD day."""
    value = rec.fields.get("extendDate", "")
    if value and _day(value) is None:
        return [where.v(FORM_RULE, "extendDate", "YYYYMMDD, a real date", value)]
    return []


def _day(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date() if len(value) == 8 else None
    except ValueError:
        return None


def confirmation_of(
    session: Session, ent: Enterprise, number: str
) -> tuple[TmpConfirmation, Document] | None:
    """The declarer's confirmation customs numbered `number`, if approved or overdue."""
    key = TmpConfirmation.agent_code + "|" + TmpConfirmation.cop_no
    stmt = (
        select(TmpConfirmation, Document)
        .join(Document, (Document.kind == CONFIRMATION) & (Document.business_key == key))
        .where(
            TmpConfirmation.enterprise_id == ent.id,
            Document.enterprise_id == ent.id,
            Document.status.in_([s.value for s in EXTENDABLE]),
        )
    )
    for row, doc in session.execute(stmt):  # few per enterprise; customs_numbers is JSON
        if (doc.customs_numbers or {}).get("confirmNo") == number:
            return row, doc
    return None


def store_problems(
    session: Session, ent: Enterprise, rec: Record, where: Where
) -> tuple[TmpConfirmation | None, list[Violation]]:
    """R-TMP-6 with the store: the confirmation named, and a date after its current one."""
    number = rec.fields.get("confirmNo", "")
    if not number:
        return None, []  # a save may name none yet; declare needs it (R-COM-2)
    found = confirmation_of(session, ent, number)
    if found is None:
        message = (
            "no approved review confirmation of the declarer has this customs number "
            "(确认申请书编号)"
        )
        return None, [where.v(RULE, "confirmNo", message, number)]
    row, doc = found
    asked = rec.fields.get("extendDate", "")
    if asked and row.return_date and asked <= row.return_date:  # YYYYMMDD: text order
        message = f"must be after the confirmation's current date 复运出/进境日期 {row.return_date}"
        return row, [where.v(RULE, "extendDate", message, asked)]
    if is_declare(rec):
        return row, _pending_problems(session, rec, where, row, doc)
    return row, []


def pending(session: Session, conf: TmpConfirmation, own_key: str) -> list[TmpExtension]:
    """The confirmation's other extensions declared and not yet answered by customs."""
    stmt = (
        select(TmpExtension)
        .join(
            Document,
            (Document.kind == EXTENSION)
            & (Document.business_key == TmpExtension.agent_code + "|" + TmpExtension.cop_no),
        )
        .where(
            TmpExtension.confirmation_id == conf.id,
            Document.status.in_([s.value for s in OPEN]),
            Document.business_key != own_key,
        )
    )
    return list(session.scalars(stmt))


def _pending_problems(
    session: Session, rec: Record, where: Where, conf: TmpConfirmation, conf_doc: Document
) -> list[Violation]:
    """R-TMP-6: one extension of a confirmation at customs at a time — two answers could
    otherwise cross, each moving the date from a stale one. The confirmation's document is
    locked first, so two declares racing on PostgreSQL queue and the second sees the first.
    A saved draft is not pending (nothing reached customs): it may wait for the answer."""
    session.execute(select(Document.id).where(Document.id == conf_doc.id).with_for_update())
    found = pending(session, conf, key_of(dict(rec.fields)))
    return [
        where.v(
            RULE,
            "confirmNo",
            f"extension {other.pre_entry_no} (copNo {other.cop_no}) of "
            "this confirmation is still with customs: one pending extension at a time, "
            "wait for its answer",
            rec.fields.get("confirmNo", ""),
        )  # fmt: skip
        for other in found
    ]


def take(
    session: Session, ent: Enterprise, rec: Record, conf: TmpConfirmation | None,
    at: datetime, fresh: bool,
) -> TmpExtension:  # fmt: skip
    """Write the extension's row for a record that passed every rule."""
    get = rec.fields.get
    agent, cop, customs = get("agentCode", ""), get("copNo", ""), get("customsCode", "")
    row = row_of(session, agent, cop)
    if row is None or fresh or row.customs_code != customs:
        number = next_pre_entry_no(session, customs, at)
        if row is None:
            row = TmpExtension(agent_code=agent, cop_no=cop, pre_entry_no=number)
            session.add(row)
        row.pre_entry_no = number
    if fresh:
        row.filled_at, row.declared_at = at, None
        row.review_remarks, row.allowed_date = "", ""
    bound = bound_values(ent)
    row.enterprise_id, row.customs_code = ent.id, customs
    row.confirmation_id = conf.id if conf else None
    row.confirm_no = get("confirmNo", "")
    row.previous_date = conf.return_date if conf else ""
    row.extend_date, row.approval_no = get("extendDate", ""), get("approvalNo", "")
    row.fields = {
        f.name: rec.fields[f.name]
        for f in form.EXTENSION
        if f.name in rec.fields and f.name not in form.CARD_FIELDS
    }
    row.operator_name = bound["operatorName"]
    row.input_code, row.input_name = bound["inputCode"], bound["inputName"]
    row.updated_at = at
    if is_declare(rec):
        row.declared_at = at
    session.flush()
    return row


def row_of(session: Session, agent_code: str, cop_no: str) -> TmpExtension | None:
    stmt = select(TmpExtension).where(
        TmpExtension.agent_code == agent_code, TmpExtension.cop_no == cop_no
    )
    return session.scalar(stmt)


def next_pre_entry_no(session: Session, customs: str, at: datetime) -> str:
    """The next "Y" + customs + year + 7-digit number (as `confirmations.next_pre_entry_no`)."""
    prefix = f"Y{customs}{at.astimezone(CHINA_TZ):%Y}"
    if session.get_bind().dialect.name == "postgresql":
        lock = zlib.crc32(f"tmp-pre-entry:{prefix}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    last = session.scalar(
        select(func.max(TmpExtension.pre_entry_no)).where(
            TmpExtension.pre_entry_no.like(f"{prefix}%")
        )
    )
    number = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{number:07d}"


# --- customs' answer (the kind's after_change) ---------------------------------------------


def after_receipt(
    session: Session, doc: Document, change: Change, receipt: dict[str, str],
    notifier: Notifier | None,
) -> None:  # fmt: skip
    """审核备注 from every review answer; an approval's allowedDate becomes the confirmation's
    new 复运出/进境日期 (an overdue one approved again: the job watches the new date)."""
    agent, cop = doc.business_key.split("|", 1)
    row = row_of(session, agent, cop)
    if row is None:
        return
    if change.to in (TmpStatus.APPROVED, TmpStatus.NOT_APPROVED):
        row.review_remarks = receipt.get("returnInfo", "")
    if change.to is not TmpStatus.APPROVED:
        return
    row.allowed_date = receipt.get("allowedDate", "") or row.extend_date
    conf = session.get(TmpConfirmation, row.confirmation_id) if row.confirmation_id else None
    if conf is None or row.allowed_date <= conf.return_date:
        return  # never moves a date backwards (an answer to an older extension)
    old, conf.return_date, conf.updated_at = conf.return_date, row.allowed_date, utcnow()
    conf_doc = session.scalar(
        select(Document).where(
            Document.kind == CONFIRMATION, Document.business_key == f"{conf.agent_code}|"
            f"{conf.cop_no}", Document.status != "deleted",
        )
    )  # fmt: skip
    if conf_doc is not None and status_of(conf_doc.status) is TmpStatus.RETURN_OVERDUE:
        info = f"[{RULE}] extension {row.pre_entry_no} approved: 复运出/进境日期 {old} → "
        info += f"{conf.return_date}"
        record(session, conf_doc, Change(TmpStatus.APPROVED, Source.GATEWAY, info), notifier)
