"""What a declarant does at the terminal: declare (申报), modify (修改) and declare again,
delete (删除), copy (复制), change (变更) and revoke (撤销) — and what the delegating residents'
face authentication does to a representative's declaration (R-BDR-4..8).

Declaring, in order:
1. the form gets the declarant's fields from the session (`identity.Declarant`: who, which
   role, which terminal and place; a representative's organisation and delegating residents),
   never from the request, and the rules run (`rules`, the place and the goods catalogue);
2. the biometric rule (`rules.biometric_required`, R-BDR-6): when it applies, the place's method
   (`BrdPlace.method`) is asked of the `BiometricGate`. A failure refuses the declare
   (`BiometricRefused`): nothing is signed or sent, a record already there keeps its status,
   a new one is kept as a draft (暂存, as a declare that did not finish); its history says why
   (method, attempts, the gate's words — never biometric data);
3. the record goes through the core's intake as a message of the place's operator: a
   resident's own declaration declared (已申报, signed and sent by the core); a
   representative's (`rules.needs_delegate_authentication`, R-BDR-7) kept and moved to 待认证
   until every delegating resident passed face authentication (`delegate_authenticated`,
   which the people side's face-authentication service calls), then declared and sent; not
   all within `auth_hours` → 认证超时 (`expire`, a job and every query).

Signing: the terminal has no enterprise IC card (border.md §10), so the message is signed by
the key of the supervised place's operator (监管场所经营人, `BrdPlace.operator_code`, a gateway
enterprise with its key binding), and carries the biometric outcome (`BiometricCheck`: method,
passed, attempts, time, terminal) and each delegate's authentication time, which the signature
covers (docs/border-messages.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.border import attachments, kinds, messages, rules, store
from gateway.border.codes import (
    BdrStatus,
    DeclType,
    Form,
    status_name,
)
from gateway.border.identity import BiometricGate, BiometricMethod, Declarant, Verification, mask_id
from gateway.border.models import BrdDeclaration, BrdDelegate, BrdPlace
from gateway.core.db import Database
from gateway.core.history import Change, Source, record
from gateway.core.intake import Intake
from gateway.core.kinds import Operation
from gateway.core.models import Document, Enterprise, utcnow
from gateway.core.status import Status, status_of
from gateway.errors import (
    BiometricRefused,
    ConfigError,
    DuplicateDocument,
    InvalidMessage,
    NotFound,
    StateConflict,
    Violation,
)

#: 认证超时 after this long in 待认证 (ours: the manual gives no limit); a deployment sets
#: CUSTOMS_GATEWAY_BDR_AUTH_HOURS (`auth_hours_configured`)
AUTH_HOURS = 24.0
AUTH_HOURS_ENV = "CUSTOMS_GATEWAY_BDR_AUTH_HOURS"
#: the fields the terminal's form may carry; the declarant's own come from the session
USER_HEAD = frozenset(messages.HEAD_FIELDS) | {"entryDeclNo"}
_NUMBER_ATTEMPTS = 5


def auth_hours_configured() -> float:
    """The 待认证 time limit: the environment's, else 24 h; a bad value is a ConfigError."""
    raw = os.environ.get(AUTH_HOURS_ENV, "").strip()
    if not raw:
        return AUTH_HOURS
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 30:
        raise ConfigError(f"{AUTH_HOURS_ENV}={raw!r}: hours, more than 0 and at most 720")
    return hours


@dataclass(frozen=True)
class Outcome:
    """What the terminal shows after an action: the record and where it stands."""

    record_id: int
    pre_entry_no: str
    status: str
    biometric: str  # "passed" / "skipped" / "not asked"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.record_id,
            "preEntryNo": self.pre_entry_no,
            "status": self.status,
            "statusName": status_name(self.status),
            "biometric": self.biometric,
        }


# --- declare -----------------------------------------------------------------------------------


def declare(
    db: Database,
    intake: Intake,
    declarant: Declarant,
    form: Form,
    values: Mapping[str, Any],
    gate: BiometricGate,
    *,
    record_id: int | None = None,
    at: datetime | None = None,
    auth_hours: float = AUTH_HOURS,
) -> Outcome:
    """申报 a new declaration, or a draft/returned/failed one again (修改 then 申报)."""
    now = at or utcnow()
    existing = None
    if record_id is not None:
        existing = _own(db, declarant, record_id, Operation.MODIFY)
        if existing.form != form:
            raise NotFound(f"no {form.form_title} {record_id} of this declarant")
    head = {k: v for k, v in dict(values.get("head") or {}).items() if k in USER_HEAD}
    head["declType"] = DeclType.APPLICATION.value
    return _declare(
        db,
        intake,
        declarant,
        form,
        {**values, "head": head},
        gate,
        now,
        auth_hours,
        existing=existing,
    )


def change(
    db: Database,
    intake: Intake,
    declarant: Declarant,
    record_id: int,
    reason: str,
    gate: BiometricGate,
    values: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
    auth_hours: float = AUTH_HOURS,
) -> Outcome:
    """变更 (R-BDR-8): only in 改单, 单证放行, 实货放行; a change record (申报类型 01) with its own
    pre-entry number naming the original's 申报单编号, the biometric rule run again."""
    now = at or utcnow()
    original = _own(db, declarant, record_id, Operation.CHANGE)
    form = Form(original.form)
    base = values or {
        k: original.fields.get(k) for k in ("head", "goods", "vehicles", "attachments")
    }
    head = {k: v for k, v in dict(base.get("head") or {}).items() if k in USER_HEAD}
    head.update(
        declType=DeclType.CHANGE.value, origDeclNo=_customs_no(db, original), reason=reason.strip()
    )
    return _declare(db, intake, declarant, form, {**base, "head": head}, gate, now, auth_hours)


def _declare(
    db: Database,
    intake: Intake,
    declarant: Declarant,
    form: Form,
    values: Mapping[str, Any],
    gate: BiometricGate,
    now: datetime,
    auth_hours: float,
    *,
    existing: BrdDeclaration | None = None,
) -> Outcome:
    place, operator = _place(db, declarant)
    filled = _filled(declarant, place, form, values, existing)
    _refuse_invalid(db, form, filled, operator)
    head = filled["head"]
    verification = None
    if rules.biometric_required(form, head["businessMode"], head["transportMode"]):
        method = BiometricMethod(place.method)
        verification = gate.verify_declarant(declarant, method)
        if not verification.passed:
            _refused(db, intake, form, filled, operator, existing, verification, now)
        filled["biometric"] = _attestation(verification, declarant, now)
    waits = rules.needs_delegate_authentication(form, head["declarantType"], head["transportMode"])
    result = _submit(db, intake, form, filled, operator, existing, declare=not waits, now=now)
    if waits:
        _pending_auth(db, result, len(filled["delegates"]), now, auth_hours)
    return Outcome(
        result.record_id,
        result.pre_entry_no,
        _status(db, result.record_id),
        "passed" if verification else "skipped",
    )


def _filled(
    declarant: Declarant,
    place: BrdPlace,
    form: Form,
    values: Mapping[str, Any],
    existing: BrdDeclaration | None,
) -> dict[str, Any]:
    """The form with the declarant's fields from the session (R-BDR-1): never from input."""
    head = dict(values.get("head") or {})
    org = declarant.organisation
    head.update(
        preEntryNo=existing.pre_entry_no if existing else "",
        districtCode=declarant.district,
        ieFlag="I",
        declarantType=declarant.role.value,
        idNumber=declarant.id_number,
        declarantName=declarant.name,
        terminalId=declarant.terminal_id,
        placeCode=declarant.place_code,
        placeName=place.name,
        orgRegNo=org.registration_no if org else "",
        orgName=org.name if org else "",
        orgUscc=(org.uscc or "") if org else "",
    )
    members = declarant.members if declarant.role.is_representative else ()
    return {
        "head": head,
        "goods": [dict(g) for g in values.get("goods") or []],
        "vehicles": [dict(v) for v in values.get("vehicles") or []] if form is Form.ENTRY else [],
        "attachments": [dict(a) for a in values.get("attachments") or []]
        if form is Form.ENTRY
        else [],
        "delegates": [{"idNumber": number} for number in members],
        "biometric": None,
    }


def _refuse_invalid(db: Database, form: Form, filled: dict[str, Any], operator: Enterprise) -> None:
    """The rules before anyone is asked for a face or a finger (the number checked later)."""
    probe = {**filled, "head": {**filled["head"], "preEntryNo": f"0000{form.value}" + "0" * 12}}
    found = rules.check_form(form, probe)
    record = messages.message_of(form)[1]
    with db.session() as session:
        found += store.place_problems(session, operator, record, filled["head"])
        found += store.catalogue_problems(session, record, filled)
        found += attachments.problems(session, record, filled)
        found += store.linked_entry_problems(session, record, filled["head"])
    found = [v for v in found if not v.field.endswith("/preEntryNo")]
    if found:
        raise InvalidMessage(found)


def _attestation(v: Verification, declarant: Declarant, at: datetime) -> dict[str, str]:
    return {
        "method": v.method.value,
        "passed": "Y",
        "attempts": str(v.attempts),
        "checkedAt": messages.app_time(at),
        "terminalId": declarant.terminal_id,
    }


def _refused(
    db: Database,
    intake: Intake,
    form: Form,
    filled: dict[str, Any],
    operator: Enterprise,
    existing: BrdDeclaration | None,
    v: Verification,
    now: datetime,
) -> None:
    """R-BDR-6: the declare is refused; the record's history says so, its status unchanged (a
    new one is kept as a draft so that the refusal has a record to be told in)."""
    words = (
        f"申报 refused: the {v.method.value} check did not pass after {v.attempts} "
        f"attempt(s){': ' + v.reason if v.reason else ''}"
    )
    if existing is None:
        saved = _submit(db, intake, form, filled, operator, None, declare=False, now=now)
        record_id = saved.record_id
    else:
        record_id = _document_id(db, existing)
    with db.session() as session:
        doc = session.get(Document, record_id)
        assert doc is not None
        record(session, doc, Change(status_of(doc.status), Source.GATEWAY, words), None)
    raise BiometricRefused(
        [Violation(rules.BIOMETRIC_RULE, "BiometricCheck", words, value=v.method.value)],
        f"{words} (record {record_id} kept, nothing sent)",
    )


@dataclass(frozen=True)
class _Submitted:
    record_id: int
    pre_entry_no: str


def _submit(
    db: Database,
    intake: Intake,
    form: Form | None,
    filled: dict[str, Any],
    operator: Enterprise,
    existing: BrdDeclaration | None,
    *,
    declare: bool,
    now: datetime,
    app_type: str | None = None,
) -> _Submitted:
    """The record through the core's intake, as the place operator's message: a new
    pre-entry number for a new record (another try if a concurrent declare took it)."""
    for _ in range(_NUMBER_ATTEMPTS):
        head = filled["head"]
        if existing is None:
            try:
                with db.session() as session:
                    head["preEntryNo"] = store.next_pre_entry_no(
                        session, _number_form(form, head), now
                    )
            except IntegrityError:  # two first draws of a new counter: the other won
                continue
        kind_type = app_type or _app_type(db, existing)
        data = messages.build(
            form, filled, operator, app_type=kind_type, app_status="2" if declare else "1", at=now
        )
        try:
            result = intake.submit(operator.code, data, "terminal", at=now)
        except (IntegrityError, DuplicateDocument):
            if existing is not None:
                raise
            continue
        return _Submitted(result.documents[0].id, head["preEntryNo"])
    raise StateConflict(
        [
            Violation(
                rules.ENTRY_RULE,
                "preEntryNo",
                "no free pre-entry number after several tries; declare again",
            )
        ]
    )


def _number_form(form: Form | None, head: Mapping[str, str]) -> Form:
    """A revoke is numbered like the form it revokes (01/03)."""
    return form if form is not None else Form(head["origPreEntryNo"][4:6])


def _app_type(db: Database, existing: BrdDeclaration | None) -> str:
    """1 for a new record or a draft declared (R-COM-2), 2 to declare any other again."""
    if existing is None:
        return "1"
    with db.session() as session:
        doc = store.document_of(session, existing)
        saved = doc is not None and doc.status == Status.SAVED.value
    return "1" if saved else "2"


def _pending_auth(
    db: Database, result: _Submitted, count: int, now: datetime, auth_hours: float
) -> None:
    """R-BDR-7: the representative's declaration waits for its delegating residents."""
    with db.session() as session:
        doc = session.get(Document, result.record_id)
        decl = store.row(session, result.pre_entry_no)
        assert doc is not None and decl is not None
        decl.auth_deadline = now + timedelta(hours=auth_hours)
        for delegate in store.delegates(session, decl):
            delegate.state, delegate.at = "pending", None
        words = f"待认证: {count} delegating resident(s) to pass face authentication"
        record(session, doc, Change(BdrStatus.PENDING_AUTH, Source.GATEWAY, words), None)


# --- the delegating residents (R-BDR-7) ---------------------------------------------------------


def delegate_authenticated(
    db: Database,
    record_id: int,
    id_number: str,
    passed: bool,
    *,
    intake: Intake | None = None,
    at: datetime | None = None,
) -> Outcome:
    """A delegating resident's face authentication for a 待认证 declaration (the people side's
    face-authentication service calls this after matching the face). Passed: noted; the last
    one sends the declaration. Refused: noted in the history, the resident may try again."""
    now = at or utcnow()
    expire(db, now)
    with db.session() as session:
        doc, decl = _locked(session, record_id)
        status = status_of(doc.status)
        if status is not BdrStatus.PENDING_AUTH:
            raise StateConflict(
                [
                    Violation(
                        rules.DELEGATION_RULE,
                        "status",
                        "face authentication "
                        f"is for 待认证 declarations; this one is "
                        f"{status_name(status.value)}",
                        value=status.value,
                    )
                ]
            )
        delegate = session.scalar(
            select(BrdDelegate).where(
                BrdDelegate.declaration_id == decl.id, BrdDelegate.id_number == id_number
            )
        )
        if delegate is None:
            raise NotFound(
                f"resident {mask_id(id_number)} is not a delegating resident of record {record_id}"
            )
        delegate.attempts += 1
        delegate.state, delegate.at = ("passed" if passed else "refused"), now
        left = [d for d in store.delegates(session, decl) if d.state != "passed"]
        words = (
            f"委托边民 {mask_id(id_number)} passed face authentication; {len(left)} to go"
            if passed
            else f"委托边民 {mask_id(id_number)} failed face authentication "
            f"(attempt {delegate.attempts}); may try again"
        )
        record(session, doc, Change(BdrStatus.PENDING_AUTH, Source.GATEWAY, words), None)
        ready = passed and not left
        if ready:
            decl.auth_deadline = None  # nothing left to time out
        pre_entry_no = decl.pre_entry_no
    if ready:
        _send_authenticated(db, intake or Intake(db, None), pre_entry_no, now)
    return Outcome(record_id, pre_entry_no, _status(db, record_id), "delegates")


def _send_authenticated(db: Database, intake: Intake, pre_entry_no: str, now: datetime) -> None:
    """Every resident passed: declare (appType 2 over 待认证, which the hook allows only now),
    each delegate's authentication time in the message."""
    with db.session() as session:
        decl = store.row(session, pre_entry_no)
        assert decl is not None
        filled = _stored_values(session, decl)
        place = store.place(session, decl.place_code)
        assert place is not None
        operator = _operator(session, place)
        session.expunge(operator)
    _submit(
        db, intake, Form(decl.form), filled, operator, decl, declare=True, now=now, app_type="2"
    )


def _stored_values(session: Session, decl: BrdDeclaration) -> dict[str, Any]:
    values = {
        k: decl.fields.get(k) or ([] if k != "head" else {})
        for k in ("head", "goods", "vehicles", "attachments")
    }
    values["delegates"] = [
        {
            "idNumber": d.id_number,
            "authenticatedAt": messages.app_time(d.at) if d.state == "passed" and d.at else "",
        }
        for d in store.delegates(session, decl)
    ]
    values["biometric"] = decl.verification
    return values


def expire(db: Database, now: datetime | None = None) -> int:
    """R-BDR-7 (ours: the manual gives no limit): 待认证 past its deadline → 认证超时, shown on
    the pages and editable again. Run by the job and before every query."""
    with db.session() as session:
        return expire_in(session, now or utcnow())


def resend_ready(db: Database, intake: Intake, now: datetime | None = None) -> int:
    """A 待认证 declaration whose residents all passed but which was not sent (the process
    stopped between the last authentication's commit and the send) is sent now: the job's
    other half. A concurrent send wins; this one is then refused by state and skipped."""
    now = now or utcnow()
    with db.session() as session:
        stmt = select(Document).where(
            Document.kind.in_((store.ENTRY_KIND, store.IMPORT_KIND)),
            Document.status == BdrStatus.PENDING_AUTH.value,
        )
        ready = []
        for doc in session.scalars(stmt):
            decl = store.row(session, doc.business_key)
            if decl is not None and not store.delegates_pending(session, decl):
                ready.append(decl.pre_entry_no)
    sent = 0
    for pre_entry_no in ready:
        try:
            _send_authenticated(db, intake, pre_entry_no, now)
            sent += 1
        except StateConflict:
            continue
    return sent


def expire_in(session: Session, now: datetime) -> int:
    done = 0
    stmt = select(BrdDeclaration).where(BrdDeclaration.auth_deadline < now)
    for decl in session.scalars(stmt):
        doc = store.document_of(session, decl)
        if doc is None or doc.status != BdrStatus.PENDING_AUTH.value:
            continue
        left = len(store.delegates_pending(session, decl))
        words = f"认证超时: {left} delegating resident(s) did not authenticate in time"
        record(session, doc, Change(BdrStatus.AUTH_TIMEOUT, Source.GATEWAY, words), None)
        decl.auth_deadline = None  # looked at once
        done += 1
    return done


# --- revoke, copy, delete ----------------------------------------------------------------------


def revoke(
    db: Database,
    intake: Intake,
    declarant: Declarant,
    record_id: int,
    reason: str,
    *,
    at: datetime | None = None,
) -> Outcome:
    """撤销 (R-BDR-8): only in 审核通过 and 单证放行, with a reason; a revoke record with its
    own pre-entry number and status goes to customs."""
    now = at or utcnow()
    original = _own(db, declarant, record_id, Operation.REVOKE)
    if not reason.strip():
        raise InvalidMessage(
            [Violation(rules.STATE_RULE, "Revoke/reason", "a revoke needs its reason (撤销原因)")]
        )
    place, operator = _place(db, declarant)
    filled = _filled(declarant, place, Form(original.form), {"head": {}}, None)
    filled["head"].update(
        declType=DeclType.REVOKE.value,
        origDeclNo=_customs_no(db, original),
        origPreEntryNo=original.pre_entry_no,
        reason=reason.strip(),
    )
    filled["delegates"] = []
    result = _submit(db, intake, None, filled, operator, None, declare=True, now=now)
    return Outcome(
        result.record_id, result.pre_entry_no, _status(db, result.record_id), "not asked"
    )


def copy(db: Database, declarant: Declarant, record_id: int) -> dict[str, Any]:
    """复制 from any record (manual §4.4): the form, with the numbers, times, status, type and
    reasons cleared; the declarant's fields come from the session when it is declared."""
    decl = _own(db, declarant, record_id, Operation.COPY)
    head = {k: v for k, v in (decl.fields.get("head") or {}).items() if k in USER_HEAD}
    return {
        "form": decl.form,
        "head": head,
        "goods": [dict(g) for g in decl.fields.get("goods") or []],
        "vehicles": [dict(v) for v in decl.fields.get("vehicles") or []],
        "attachments": [dict(a) for a in decl.fields.get("attachments") or []],
    }


def delete(db: Database, intake: Intake, declarant: Declarant, record_id: int) -> Outcome:
    """删除 (R-COM-5): only in 暂存, 退单, 发往海关失败, 海关入库失败 (and 认证超时)."""
    decl = _own(db, declarant, record_id, Operation.DELETE)
    with db.session() as session:
        filled = _stored_values(session, decl)
        place = store.place(session, decl.place_code)
        assert place is not None
        operator = _operator(session, place)
        session.expunge(operator)
    form = None if decl.decl_type == DeclType.REVOKE else Form(decl.form)
    _submit(db, intake, form, filled, operator, decl, declare=False, now=utcnow(), app_type="3")
    return Outcome(record_id, decl.pre_entry_no, Status.DELETED.value, "not asked")


# --- lookups -----------------------------------------------------------------------------------


#: the manual's words for each operation (its buttons)
_WORDS = {
    Operation.MODIFY: "修改 (modify)",
    Operation.DELETE: "删除 (delete)",
    Operation.CHANGE: "变更 (change)",
    Operation.REVOKE: "撤销 (revoke)",
    Operation.COPY: "复制 (copy)",
}


def _own(
    db: Database, declarant: Declarant, record_id: int, operation: Operation
) -> BrdDeclaration:
    """The declarant's record (another's is not found, as none), in a state its kind allows
    `operation` in (`kinds.OPERATIONS`, the manual's §6)."""
    with db.session() as session:
        doc = session.get(Document, record_id)
        decl = store.row(session, doc.business_key) if doc is not None else None
        kind = kinds.BY_NAME.get(doc.kind) if doc is not None else None
        mine = (
            decl is not None
            and doc is not None
            and kind is not None
            and doc.status != Status.DELETED.value
            and decl.id_number == declarant.id_number
            and decl.declarant_type == declarant.role.value
        )
        if not mine:
            raise NotFound(f"no border declaration {record_id} of this declarant")
        assert doc is not None and decl is not None and kind is not None
        status = status_of(doc.status)
        allowed = kind.allowed_in(operation)
        if operation is Operation.MODIFY:  # 待认证 is sent by the gateway, never edited
            allowed = allowed - {BdrStatus.PENDING_AUTH}
        if status not in allowed:
            names = ", ".join(sorted({status_name(s.value) for s in allowed})) or "no state"
            message = (
                f"{_WORDS[operation]} is allowed only in {names}; "
                f"the record is {status_name(status.value)}"
            )
            raise StateConflict(
                [Violation(rules.STATE_RULE, "status", message, value=status.value)]
            )
        session.expunge(decl)
        return decl


def _customs_no(db: Database, decl: BrdDeclaration) -> str:
    with db.session() as session:
        doc = store.document_of(session, decl)
        return str((doc.customs_numbers or {}).get("declNo", "")) if doc else ""


def _document_id(db: Database, decl: BrdDeclaration) -> int:
    with db.session() as session:
        doc = store.document_of(session, decl)
        assert doc is not None
        return doc.id


def _locked(session: Session, record_id: int) -> tuple[Document, BrdDeclaration]:
    doc = session.scalar(select(Document).where(Document.id == record_id).with_for_update())
    decl = store.row(session, doc.business_key) if doc is not None else None
    if doc is None or decl is None or doc.kind not in (store.ENTRY_KIND, store.IMPORT_KIND):
        raise NotFound(f"no border declaration {record_id}")
    return doc, decl


def _status(db: Database, record_id: int) -> str:
    with db.session() as session:
        doc = session.get(Document, record_id)
        return doc.status if doc is not None else Status.DELETED.value


def _place(db: Database, declarant: Declarant) -> tuple[BrdPlace, Enterprise]:
    with db.session() as session:
        place = store.place(session, declarant.place_code)
        if place is None:
            raise InvalidMessage(
                [
                    Violation(
                        rules.ENTRY_RULE,
                        "placeCode",
                        "the terminal's supervised place is not registered with the gateway",
                        value=declarant.place_code,
                    )
                ]
            )
        operator = _operator(session, place)
        session.expunge(place)
        session.expunge(operator)
        return place, operator


def _operator(session: Session, place: BrdPlace) -> Enterprise:
    ent = session.scalar(select(Enterprise).where(Enterprise.code == place.operator_code))
    if ent is None:
        raise InvalidMessage(
            [
                Violation(
                    rules.ENTRY_RULE,
                    "placeCode",
                    f"the place's operator {place.operator_code} is not a gateway enterprise",
                    value=place.place_code,
                )
            ]
        )
    return ent
