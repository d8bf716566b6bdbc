"""The declarations' rows: pre-entry numbers, the rules that need the store (the supervised
place, the goods catalogue, the record a change or revoke is made of), and writing a record's
row in the intake transaction (`kinds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway.border.codes import BdrStatus, DeclType, Form, status_name
from gateway.border.identity import BiometricMethod
from gateway.border.models import (
    BrdCatalogue,
    BrdDeclaration,
    BrdDelegate,
    BrdPlace,
    BrdSequence,
)
from gateway.border.rules import DELEGATION_RULE, ENTRY_RULE, IMPORT_RULE, STATE_RULE
from gateway.codes import CHINA_TZ
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status, status_of
from gateway.errors import InvalidMessage, Violation

ENTRY_KIND, IMPORT_KIND, REVOKE_KIND = "brd_entry", "brd_import", "brd_revoke"
KIND_OF_FORM = {Form.ENTRY: ENTRY_KIND, Form.IMPORT: IMPORT_KIND}
CATALOGUE_RULE = "R-BDR-4.catalogue"


def next_pre_entry_no(session: Session, form: Form, at: datetime) -> str:
    """预录入编号: YYYY + 01 (entry) / 03 (import) + a 12-digit sequence per year and form
    (manual §4.1, §5.1), drawn from its counter row by one UPDATE (which takes the row's —
    on SQLite the database's — write lock before reading it): the caller commits at once, so
    concurrent declares wait a moment and never share a number. A number whose declare then
    fails is not reused (a gap, as customs' own sequences have)."""
    prefix = f"{at.astimezone(CHINA_TZ).year:04d}{form.value}"
    seq = BrdSequence.__table__.c
    bumped = session.execute(
        update(BrdSequence).where(seq.prefix == prefix).values(last=seq.last + 1)
    )
    if not bumped.rowcount:  # type: ignore[attr-defined]
        top = session.scalar(
            select(func.max(BrdDeclaration.pre_entry_no)).where(
                BrdDeclaration.pre_entry_no.like(f"{prefix}%")
            )
        )
        session.add(BrdSequence(prefix=prefix, last=(int(top[6:]) if top else 0) + 1))
        session.flush()  # a second first row fails here (primary key): the caller tries again
    last = session.scalar(select(BrdSequence.last).where(seq.prefix == prefix))
    return f"{prefix}{last:012d}"


# --- reference data ------------------------------------------------------------------------------


def place(session: Session, code: str) -> BrdPlace | None:
    return session.get(BrdPlace, code) if code else None


def save_place(
    session: Session, code: str, name: str, district: str, operator: str, method: BiometricMethod
) -> BrdPlace:
    """Register or update a supervised place (admin; customs' supervision application holds
    the method, R-BDR-6)."""
    row = session.get(BrdPlace, code) or BrdPlace(place_code=code)
    row.name, row.district, row.operator_code, row.method = name, district, operator, method.value
    session.add(row)
    session.flush()
    return row


def load_catalogue(session: Session, entries: Iterable[Mapping[str, Any]]) -> int:
    """Replace the goods catalogue (商品分类表) with `entries` ({goodsCode, name, unit})."""
    rows = []
    problems = []
    for n, item in enumerate(entries, start=1):
        code, name = str(item.get("goodsCode", "")).strip(), str(item.get("name", "")).strip()
        if not code or len(code) > 10 or not name:
            problems.append(
                Violation(
                    CATALOGUE_RULE,
                    f"catalogue[{n}]",
                    "goodsCode (≤ 10) and name needed",
                    value=code,
                )
            )
            continue
        rows.append(
            BrdCatalogue(
                goods_code=code, name=name[:100], unit=str(item.get("unit", "")).strip()[:10]
            )
        )
    if problems or not rows:
        raise InvalidMessage(problems or [Violation(CATALOGUE_RULE, "catalogue", "empty")])
    session.query(BrdCatalogue).delete()
    session.add_all(rows)
    session.flush()
    return len(rows)


def catalogue(session: Session) -> dict[str, BrdCatalogue]:
    return {row.goods_code: row for row in session.scalars(select(BrdCatalogue))}


# --- the rules that need the store ------------------------------------------------------------


def place_problems(
    session: Session, ent: Enterprise, record: str, head: Mapping[str, str]
) -> list[Violation]:
    """The supervised place is registered, in the declared district, and the sender is its
    operator (whose key signs its declarations)."""
    rule = ENTRY_RULE if record == "EntryDeclaration" else IMPORT_RULE
    where = f"{record}/placeCode"
    found = place(session, head.get("placeCode", ""))
    if found is None:
        return [
            Violation(
                rule, where, "not a supervised place the gateway knows", value=head.get("placeCode")
            )
        ]
    problems = []
    if head.get("districtCode") and head["districtCode"] != found.district:
        problems.append(
            Violation(
                rule,
                f"{record}/districtCode",
                f"the place {found.place_code} is in district {found.district}",
                value=head["districtCode"],
            )
        )
    if found.operator_code != ent.code:
        problems.append(
            Violation(
                rule,
                where,
                f"declarations of this place are sent by its operator {found.operator_code}",
                value=found.place_code,
            )
        )
    return problems


def catalogue_problems(session: Session, record: str, values: Mapping[str, Any]) -> list[Violation]:
    """Each goods line names an entry of the goods catalogue (商品分类表, R-BDR-4)."""
    known = catalogue(session)
    tag = "EntryGoods" if record == "EntryDeclaration" else "ImportGoods"
    problems = []
    for n, line in enumerate(values.get("goods") or [], start=1):
        code = line.get("goodsCode", "")
        if code and code not in known:
            problems.append(
                Violation(
                    CATALOGUE_RULE,
                    f"{record}/{tag}[{n}]/goodsCode",
                    f"商品序号{n}: not in the goods catalogue (商品分类表)",
                    value=code,
                )
            )
    return problems


def row(session: Session, pre_entry_no: str) -> BrdDeclaration | None:
    return session.scalar(select(BrdDeclaration).where(BrdDeclaration.pre_entry_no == pre_entry_no))


def document_of(session: Session, decl: BrdDeclaration) -> Document | None:
    kind = REVOKE_KIND if decl.decl_type == DeclType.REVOKE else KIND_OF_FORM[Form(decl.form)]
    return session.scalar(
        select(Document).where(
            Document.kind == kind,
            Document.business_key == decl.pre_entry_no,
            Document.status != Status.DELETED.value,
        )
    )


def by_customs_number(session: Session, form: Form, number: str) -> BrdDeclaration | None:
    """The application or change customs gave `number` (its 申报单编号)."""
    if not number:
        return None
    return session.scalar(
        select(BrdDeclaration).where(
            BrdDeclaration.decl_no == number,
            BrdDeclaration.form == form.value,
            BrdDeclaration.decl_type != DeclType.REVOKE.value,
        )
    )


def linked_entry_problems(
    session: Session, record: str, head: Mapping[str, str]
) -> list[Violation]:
    """An import's 关联进境申报单编号, when given, is an entry declaration customs numbered for
    the same declarant (R-BDR-5); another's is not told apart from none."""
    number = head.get("entryDeclNo", "")
    if record != "ImportDeclaration" or not number:
        return []
    entry = by_customs_number(session, Form.ENTRY, number)
    same = entry is not None and (entry.id_number, entry.declarant_type) == (
        head.get("idNumber"),
        head.get("declarantType"),
    )
    if same:
        return []
    return [
        Violation(
            IMPORT_RULE,
            f"{record}/entryDeclNo",
            "no entry declaration (进境申报单) of this declarant with this number",
            value=number,
        )
    ]


def delegates_pending(session: Session, decl: BrdDeclaration) -> list[BrdDelegate]:
    return [d for d in delegates(session, decl) if d.state != "passed"]


def delegates(session: Session, decl: BrdDeclaration) -> list[BrdDelegate]:
    stmt = select(BrdDelegate).where(BrdDelegate.declaration_id == decl.id)
    return list(session.scalars(stmt.order_by(BrdDelegate.id)))


def editable_problems(
    session: Session, doc: Document | None, record: str, app_type: str
) -> list[Violation]:
    """Modify/declare again (appType 2) over 待认证 only once every delegate passed: that is
    the gateway's own send, never the resident's edit (R-BDR-7)."""
    if doc is None or app_type != "2" or status_of(doc.status) is not BdrStatus.PENDING_AUTH:
        return []
    decl = row(session, doc.business_key)
    if decl is not None and not delegates_pending(session, decl):
        return []
    return [
        Violation(
            DELEGATION_RULE,
            f"{record}/appType",
            "待认证: every delegating resident must pass face authentication first",
            value=app_type,
        )
    ]


def take(
    session: Session,
    form: Form | None,
    values: Mapping[str, Any],
    at: datetime,
    *,
    declared: bool,
    original: BrdDeclaration | None = None,
) -> BrdDeclaration:
    """Write the record's row (new or the draft's), with its delegates."""
    head = values["head"]
    decl = row(session, head["preEntryNo"])
    if decl is None:
        decl = BrdDeclaration(pre_entry_no=head["preEntryNo"], created_at=at, review_opinion="")
        session.add(decl)
    decl.form = (form or Form(head["preEntryNo"][4:6])).value
    decl.decl_type = head.get("declType", DeclType.APPLICATION)
    decl.district = head.get("districtCode", "")
    decl.place_code = head.get("placeCode", "")
    decl.business_mode = head.get("businessMode", "")
    decl.transport_mode = head.get("transportMode", "")
    decl.declarant_type = head.get("declarantType", "")
    decl.id_number = head.get("idNumber", "")
    decl.declarant_name = head.get("declarantName", "")
    decl.terminal_id = head.get("terminalId", "")
    decl.fields = {k: values.get(k) for k in ("head", "goods", "vehicles", "attachments")}
    decl.verification = values.get("biometric")
    if original is not None:
        decl.original_id = original.id
    if declared:
        decl.declared_at = at
    session.flush()
    _delegates(session, decl, values.get("delegates") or [])
    return decl


def _delegates(session: Session, decl: BrdDeclaration, listed: list[Mapping[str, str]]) -> None:
    """The delegates as listed: one no longer listed goes, a new one starts pending."""
    have = {d.id_number: d for d in delegates(session, decl)}
    wanted = [d.get("idNumber", "") for d in listed]
    for number, old in have.items():
        if number not in wanted:
            session.delete(old)
    for number in wanted:
        if number not in have:
            session.add(
                BrdDelegate(declaration_id=decl.id, id_number=number, state="pending", attempts=0)
            )
    session.flush()


def original_problems(
    session: Session,
    record: str,
    form: Form,
    head: Mapping[str, str],
    allowed: frozenset[Any],
    what: str,
) -> tuple[BrdDeclaration | None, list[Violation]]:
    """The record a change or revoke names by customs' number, when in `allowed` (R-BDR-8)."""
    number = head.get("origDeclNo", "")
    original = by_customs_number(session, form, number)
    where = f"{record}/origDeclNo"
    if original is None:
        return None, [
            Violation(STATE_RULE, where, f"no {form.form_title} with this 申报单编号", value=number)
        ]
    if original.id_number != head.get("idNumber") or original.declarant_type != head.get(
        "declarantType"
    ):
        return None, [
            Violation(STATE_RULE, where, f"no {form.form_title} with this 申报单编号", value=number)
        ]  # another's is not told apart from none
    doc = document_of(session, original)
    state = status_of(doc.status) if doc is not None else Status.DELETED
    if state not in allowed:
        return original, [
            Violation(
                STATE_RULE,
                where,
                f"{what} is allowed only in "
                f"{_names(allowed)}; the record is {status_name(state.value)}",
                value=number,
            )
        ]
    return original, []


def _names(states: frozenset[Any]) -> str:
    return ", ".join(sorted({status_name(s.value) for s in states}))


def auth_deadline(at: datetime, hours: float) -> datetime:
    return at + timedelta(hours=hours)
