"""Loaned-exhibit lists (外借展品清单, seed 002 §1.3, R-TMP-4) as the gateway keeps them: the
exhibition a list names, the goods lines it lends and how much of each declared line is
already lent, the rows written with its message, and the list's use of its exhibition.

- 展览会编号 must be the customs number of an approved exhibition registration of the same
  enterprise. An unknown number, one of a registration not (or no longer) approved and one of
  another enterprise get the same answer: the refusal reveals nothing of others' exhibitions.
  展览会名称 and 主管海关 are taken from the registration, never sent.
- Each goods line names a line of a customs declaration linked to that exhibition (reference
  data, `declarations`), and the quantity lent across every list that counts (`COUNTED`) may
  not exceed the declared quantity.
- Pre-entry number (外借清单预录入号, "returned after the save"): the manual shows none; ours
  follows the siblings': "W" (外借) + the exhibition's supervising customs + year + 7 digits.

Concurrency: the check and the write run in the intake transaction after the exhibition's
document row is locked (SELECT … FOR UPDATE). Every line of a list belongs to that one
exhibition, so two lists competing for a line wait for each other, and the second reads the
first's committed lines (PostgreSQL's read committed takes a new snapshot per statement). The
deletion application locks the same row, so a list and a deletion cannot pass together.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.kinds import Record, key_text
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status, status_of
from gateway.errors import Violation
from gateway.temporary import fields as form
from gateway.temporary.codes import OPEN, TmpStatus
from gateway.temporary.models import TmpDeclarationGoods, TmpExhibition, TmpLoanGoods, TmpLoanList
from gateway.temporary.rules import FORM_RULE, bound_values, is_declare
from gateway.temporary.rules import Where as Where

LOAN_LIST = "tmp_loan_list"
EXHIBITION = "tmp_exhibition"
DELETION = "tmp_exhibition_deletion"
RULE = "R-TMP-4"  # the list: its exhibition, its goods, the quantities lent
GOODS_TAG = "LoanGoods"
MAX_LINES = 999

#: the states of a list whose quantities count against the declared ones: from its first save
#: until customs refuses it. A draft counts (it was checked when saved, and a declared list
#: must not be overtaken by another's later save); a list customs refused (审核不通过,
#: 海关入库失败) or the enterprise deleted does not — edited and declared again, it is checked
#: again at intake like a new one. The gateway's own failures before customs (发往海关失败)
#: count: customs never refused them and the enterprise declares them again.
NOT_COUNTED: frozenset[StrEnum] = frozenset(
    {Status.DELETED, Status.STORE_FAILED, TmpStatus.NOT_APPROVED}
)


@dataclass(frozen=True)
class Line:
    """One LoanGoods element of a record, as sent."""

    n: int
    element_fields: dict[str, str]

    def get(self, name: str) -> str:
        return self.element_fields.get(name, "")


@dataclass(frozen=True)
class Exhibition:
    """The approved registration a list names, locked for the intake transaction."""

    row: TmpExhibition
    doc: Document
    number: str


def goods_of(rec: Record) -> list[Line]:
    """The record's LoanGoods lines, their leaf values by local name."""
    found: list[Line] = []
    for child in rec.element:
        tag = child.tag
        if isinstance(tag, str) and tag.endswith("}" + GOODS_TAG):
            values = {}
            for leaf in child:
                name = leaf.tag
                if isinstance(name, str):
                    values[name[name.find("}") + 1 :]] = (leaf.text or "").strip()
            found.append(Line(len(found) + 1, values))
    return found


def _goods_where(where: Where, line: Line, name: str) -> str:
    return f"{where.tag}[{where.n}]/{GOODS_TAG}[{line.n}]/{form.label(name)}"


def _v(where: Where, line: Line, rule: str, name: str, message: str, value: str) -> Violation:
    return Violation(rule, _goods_where(where, line, name), message, value=value)


# --- the rules that need no store ----------------------------------------------------------


def record_rules(rec: Record, where: Where) -> list[Violation]:
    """R-TMP-4 on one record: dates, and each goods line whole and well formed; declare
    needs at least one line (R-COM-2)."""
    found = _dates(rec, where)
    lines = goods_of(rec)
    if is_declare(rec) and not lines:
        found.append(where.v("R-COM-2", GOODS_TAG, "declare needs at least one goods line", ""))
    seen: dict[tuple[str, str], int] = {}
    for line in lines:
        found += _line_rules(where, line)
        pair = (line.get("entryId"), line.get("itemNo"))
        if all(pair) and pair in seen:
            found.append(_v(where, line, RULE, "itemNo", f"the same declaration line as goods "
                            f"line {seen[pair]}", "/".join(pair)))  # fmt: skip
        seen.setdefault(pair, line.n)
    numbers = [line.get("gNo") for line in lines if line.get("gNo")]
    for line in lines:
        if line.get("gNo") and numbers.count(line.get("gNo")) > 1:
            found.append(_v(where, line, RULE, "gNo", "used by another line", line.get("gNo")))
    return found


def _dates(rec: Record, where: Where) -> list[Violation]:
    days: dict[str, date | None] = {}
    found = []
    for name in ("loanDate", "loanDueDate"):
        value = rec.fields.get(name, "")
        days[name] = _day(value)
        if value and days[name] is None:
            found.append(where.v(FORM_RULE, name, "YYYYMMDD, a real date", value))
    start, end = days["loanDate"], days["loanDueDate"]
    if start and end and end < start:
        span = f"{rec.fields['loanDate']}..{rec.fields['loanDueDate']}"
        found.append(where.v(FORM_RULE, "loanDueDate", "must not be before loanDate", span))
    return found


def _line_rules(where: Where, line: Line) -> list[Violation]:
    found = []
    entry, item, qty, g_no = (line.get(n) for n in ("entryId", "itemNo", "loanQty", "gNo"))
    if item and not entry:
        found.append(_v(where, line, RULE, "itemNo", "商品序号 only with 报关单海关编号 "
                        "(entryId)", item))  # fmt: skip
    for name in ("entryId", "itemNo", "loanQty"):
        if not line.get(name) and not (name == "entryId" and item):
            found.append(_v(where, line, "R-COM-2", name, "a goods line needs it: not filled", ""))
    if entry and not (entry.isdigit() and len(entry) == 18):
        found.append(_v(where, line, RULE, "entryId", "18 digits", entry))
    if item and not (item.isdigit() and 1 <= int(item) <= 999):
        found.append(_v(where, line, RULE, "itemNo", "a whole number 1..999", item))
    if g_no and not (g_no.isdigit() and 1 <= int(g_no) <= MAX_LINES):
        found.append(_v(where, line, RULE, "gNo", "a whole number 1..999", g_no))
    if qty and quantity(qty) is None:
        found.append(_v(where, line, RULE, "loanQty", "a number > 0, at most 5 decimals", qty))
    return found


def quantity(text_value: str) -> Decimal | None:
    try:
        number = Decimal(text_value)
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0 or number != round(number, 5):
        return None
    return number


def _day(value: str) -> date | None:
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


# --- the exhibition ------------------------------------------------------------------------


def approved_exhibition(
    session: Session, ent: Enterprise | None, number: str, *, lock: bool = True
) -> Exhibition | None:
    """The enterprise's approved registration whose customs number is `number`, its document
    locked (`lock`, at intake); None for an unknown number, another's, or one not approved
    (alike). No enterprise: any enterprise's (an administrator's query)."""
    stmt = (
        select(TmpExhibition, Document)
        .join(
            Document,
            (Document.kind == EXHIBITION)
            & (Document.business_key == TmpExhibition.agent_code + "|" + TmpExhibition.cop_no)
            & (Document.enterprise_id == TmpExhibition.enterprise_id),
        )
        .where(Document.status == TmpStatus.APPROVED.value)
    )
    if ent is not None:
        stmt = stmt.where(TmpExhibition.enterprise_id == ent.id)
    # customs_numbers is JSON: an enterprise has few approved exhibitions, compared here
    for row, doc in session.execute(stmt):
        if (doc.customs_numbers or {}).get("exhibitionNo") == number:
            if not lock:
                return Exhibition(row, doc, number)
            locked = session.get(Document, doc.id, with_for_update=True, populate_existing=True)
            if locked is None or status_of(locked.status) is not TmpStatus.APPROVED:
                return None  # withdrawn while we waited for the lock
            return Exhibition(row, locked, number)
    return None


def exhibition_problems(
    session: Session, ent: Enterprise, rec: Record, where: Where
) -> tuple[Exhibition | None, list[Violation]]:
    number = rec.fields.get("exhibitionNo", "")
    found = approved_exhibition(session, ent, number)
    if found is None:
        message = "no approved exhibition of the declarer has this customs number (展览会编号)"
        return None, [where.v(RULE, "exhibitionNo", message, number)]
    pending = [d for d in _open_deletions(session, found.doc.business_key) if d.kind == DELETION]
    if pending:
        message = f"the exhibition's deletion application {pending[0].business_key} is with customs"
        return None, [where.v(RULE, "exhibitionNo", message, number)]
    return found, []


def _open_deletions(session: Session, key: str) -> list[Document]:
    stmt = select(Document).where(
        Document.kind == DELETION,
        Document.business_key == key,
        Document.status.in_([s.value for s in OPEN]),
    )
    return list(session.scalars(stmt))


# --- the goods and the quantities ----------------------------------------------------------


def goods_problems(
    session: Session, rec: Record, where: Where, exhibition: Exhibition, own_key: str
) -> list[Violation]:
    """Each line on the exhibition's declarations, and the quantity lent across every list
    that counts at most the declared one."""
    found = []
    for line in goods_of(rec):
        declared = _declared(session, exhibition.number, line)
        if declared is None:
            message = (
                f"not a goods line of the customs declarations linked to exhibition "
                f"{exhibition.number}"
            )
            pair = f"{line.get('entryId')}/{line.get('itemNo')}"
            found.append(_v(where, line, RULE, "itemNo", message, pair))
            continue
        lent = lent_elsewhere(session, declared.entry_id, declared.item_no, own_key)
        asked = quantity(line.get("loanQty")) or Decimal(0)
        if lent + asked > declared.qty:
            free = max(declared.qty - lent, Decimal(0))
            message = (
                f"declared {_plain(declared.qty)} {declared.unit}, lent on other lists "
                f"{_plain(lent)}: at most {_plain(free)} can be lent"
            )
            found.append(_v(where, line, RULE, "loanQty", message, line.get("loanQty")))
    return found


def _declared(session: Session, number: str, line: Line) -> TmpDeclarationGoods | None:
    item = line.get("itemNo")
    stmt = select(TmpDeclarationGoods).where(
        TmpDeclarationGoods.exhibition_no == number,
        TmpDeclarationGoods.entry_id == line.get("entryId"),
        TmpDeclarationGoods.item_no == int(item),
    )
    return session.scalar(stmt)


def lent_elsewhere(session: Session, entry_id: str, item_no: int, own_key: str) -> Decimal:
    """What the lists that count, other than `own_key`, lend of one declaration line."""
    key = TmpLoanList.agent_code + "|" + TmpLoanList.cop_no
    stmt = (
        select(func.coalesce(func.sum(TmpLoanGoods.qty), 0))
        .join(TmpLoanList, TmpLoanList.id == TmpLoanGoods.loan_list_id)
        .join(Document, (Document.kind == LOAN_LIST) & (Document.business_key == key))
        .where(
            TmpLoanGoods.entry_id == entry_id,
            TmpLoanGoods.item_no == item_no,
            Document.status.not_in([s.value for s in NOT_COUNTED]),
            key != own_key,
        )
    )
    return exact(session.scalar(stmt))


def exact(total: object) -> Decimal:
    """A database sum as the exact quantity. SQLite keeps NUMERIC as binary floats, so its sum
    comes back through a float (0.1 + 0.2 = 0.30000000000000004); every quantity has at most
    5 decimals, so the sum is rounded to those rather than trusting the driver's conversion."""
    return Decimal(str(total or 0)).quantize(_FIVE_PLACES)


_FIVE_PLACES = Decimal("0.00001")


def _plain(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


# --- the rows ------------------------------------------------------------------------------


def row_of(session: Session, agent_code: str, cop_no: str) -> TmpLoanList | None:
    stmt = select(TmpLoanList).where(
        TmpLoanList.agent_code == agent_code, TmpLoanList.cop_no == cop_no
    )
    return session.scalar(stmt)


def take(
    session: Session, ent: Enterprise, rec: Record, exhibition: Exhibition, at: datetime,
    fresh: bool,
) -> TmpLoanList:  # fmt: skip
    """Write the list's row and goods lines (replacing earlier ones) for a record that passed
    every rule; `fresh` when no live document had its key (a new number)."""
    agent, cop = rec.fields.get("agentCode", ""), rec.fields.get("copNo", "")
    ex = exhibition.row
    row = row_of(session, agent, cop)
    if row is None or fresh:
        number = next_pre_entry_no(session, ex.customs_code, at)
        if row is None:
            row = TmpLoanList(agent_code=agent, cop_no=cop, pre_entry_no=number)
            session.add(row)
        row.pre_entry_no, row.filled_at, row.declared_at = number, at, None
    bound = bound_values(ent)
    row.enterprise_id = ent.id
    row.exhibition_id, row.exhibition_no = ex.id, exhibition.number
    row.exhibition_name, row.customs_code = ex.exhibition_name, ex.customs_code
    row.fields = {
        f.name: rec.fields[f.name]
        for f in form.LOAN
        if f.name in rec.fields and f.name not in form.CARD_FIELDS
    }
    row.operator_name = bound["operatorName"]
    row.input_code, row.input_name = bound["inputCode"], bound["inputName"]
    row.updated_at = at
    if is_declare(rec):
        row.declared_at = at
    session.flush()
    _replace_goods(session, row, goods_of(rec))
    return row


def _replace_goods(session: Session, row: TmpLoanList, lines: list[Line]) -> None:
    for old in session.scalars(select(TmpLoanGoods).where(TmpLoanGoods.loan_list_id == row.id)):
        session.delete(old)
    session.flush()
    for line in lines:
        session.add(
            TmpLoanGoods(
                loan_list_id=row.id,
                g_no=int(line.get("gNo") or line.n),
                entry_id=line.get("entryId"),
                item_no=int(line.get("itemNo")),
                qty=quantity(line.get("loanQty")),
            )
        )
    session.flush()


def next_pre_entry_no(session: Session, customs: str, at: datetime) -> str:
    """The next "W" + customs + year + 7-digit number; numbering in one customs and year
    takes a transaction lock on PostgreSQL, as the registration's does (registrations)."""
    prefix = f"W{customs}{at.astimezone(CHINA_TZ):%Y}"
    if session.get_bind().dialect.name == "postgresql":
        lock = zlib.crc32(f"tmp-pre-entry:{prefix}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
    last = session.scalar(
        select(func.max(TmpLoanList.pre_entry_no)).where(
            TmpLoanList.pre_entry_no.like(f"{prefix}%")
        )
    )
    number = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{number:07d}"


# --- the list's use of its exhibition (registrations.USAGE_CHECKS) -------------------------


def use_of(session: Session, exhibition: TmpExhibition) -> str | None:
    """A list that names the registration, unless the enterprise deleted it: a registration
    with one cannot be deleted (备案删除 refused)."""
    key = TmpLoanList.agent_code + "|" + TmpLoanList.cop_no
    stmt = (
        select(TmpLoanList.cop_no, TmpLoanList.pre_entry_no)
        .join(Document, (Document.kind == LOAN_LIST) & (Document.business_key == key))
        .where(
            TmpLoanList.exhibition_id == exhibition.id,
            Document.status != Status.DELETED.value,
        )
        .limit(1)
    )
    found = session.execute(stmt).first()
    if found is None:
        return None
    return f"loaned-exhibit list {found.cop_no} ({found.pre_entry_no})"


def key_of(fields: dict[str, str]) -> str:
    return key_text((fields.get("agentCode", ""), fields.get("copNo", "")))
