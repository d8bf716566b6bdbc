"""Intake: one message in, records stored, or the full list of errors out.

The order is fixed by R-COM-1: hardened parse, XSD, then business checks, then the store.
Nothing is acknowledged to the sender before the commit; a message that fails any step is
refused whole (it is signed and sent as a whole), and nothing already accepted is touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from lxml import etree
from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.codes import AppStatus, AppType
from gateway.core import checks, delegations, logs, metrics, registry
from gateway.core.db import Database
from gateway.core.group_commit import GroupCommit, writing
from gateway.core.history import Change, Notifier, Source, record_all
from gateway.core.kinds import DocumentKind, Operation, Record, head_fields, key_text
from gateway.core.models import (
    DOC_REF_COLUMNS,
    DOCUMENTS,
    MESSAGES,
    VERSIONS,
    DocRef,
    Document,
    Enterprise,
    Message,
    utcnow,
)
from gateway.core.status import MODIFIABLE, Status, status_of
from gateway.errors import DuplicateDocument, InvalidMessage, StateConflict, Violation
from schemas import loader as schemas


@dataclass(frozen=True)
class StoredDocument:
    id: int
    kind: str
    business_key: str
    status: str
    pre_no: str
    version: int


@dataclass(frozen=True)
class IntakeResult:
    message_id: int
    message_type: str
    duplicate: bool
    documents: tuple[StoredDocument, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "message_type": self.message_type,
            "duplicate": self.duplicate,
            "documents": [d.__dict__ for d in self.documents],
        }


@dataclass(frozen=True)
class Checked:
    """A message that passed parse, XSD and business checks, ready to store."""

    kind: DocumentKind
    root: etree._Element
    records: tuple[Record, ...]
    data: bytes


def check(
    data: bytes, *, max_bytes: int = xmlsafe.DEFAULT_MAX_BYTES, schema_only: bool = False
) -> Checked:
    """Everything but the store: raises InvalidMessage with every violation found."""
    root = xmlsafe.parse(data, max_bytes).getroot()
    mtype = schemas.message_type(root)
    kind = registry.for_message(mtype)
    violations = schemas.validate(root, mtype)
    if kind is None and not violations:
        violations = [_unknown_type(mtype)]
    if violations:
        raise InvalidMessage(violations)
    assert kind is not None
    if not schema_only:  # the XSD alone stops here; intake goes on
        _refuse_signature(root, mtype)
        violations = checks.check_message(root)
        if violations:
            raise InvalidMessage(violations)
    return Checked(kind=kind, root=root, records=tuple(kind.records(root)), data=bytes(data))


DSIG_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"


def _refuse_signature(root: etree._Element, mtype: str) -> None:
    """The gateway signs with the enterprise's own key (R-COM-3): a message that comes
    signed already could never be signed again (it failed signing forever after a 201)."""
    if next(root.iter(DSIG_SIGNATURE), None) is not None:
        raise InvalidMessage([Violation(
            rule="R-COM-3",
            field=f"{mtype}/ds:Signature",
            message="submit the message unsigned: the gateway signs it with the "
            "enterprise's key",
        )])  # fmt: skip


def _unknown_type(mtype: str) -> Violation:
    known = ", ".join(sorted(registry.message_types()))
    return Violation(
        rule="R-COM-1",
        field=mtype,
        message=f"the gateway does not accept {mtype} declarations (accepted: {known})",
    )


def check_sender(checked: Checked, ent: Enterprise) -> None:
    """The transmitting enterprise in BaseTransfer must be the authenticated one (R-COM-3)."""
    transfer = next((c for c in checked.root if _local(c) == "BaseTransfer"), None)
    fields = head_fields(transfer, None) if transfer is not None else {}
    problems = []
    if fields.get("copCode") != ent.code:
        problems.append(_sender("BaseTransfer/copCode", fields.get("copCode"), ent.code))
    if fields.get("dxpId") != ent.dxp_id:
        problems.append(_sender("BaseTransfer/dxpId", fields.get("dxpId"), ent.dxp_id))
    if problems:
        raise InvalidMessage(problems)


def _sender(field_name: str, value: str | None, expected: str) -> Violation:
    return Violation(
        rule="R-COM-3",
        field=field_name,
        message=f"must be the authenticated enterprise's {expected!r}",
        value=value,
    )


def _local(element: etree._Element) -> str:
    # Not etree.QName: BaseTransfer comes after every record, each looked at on the way.
    tag = element.tag
    return tag[tag.find("}") + 1 :] if isinstance(tag, str) else ""


#: a concurrent submission of the same message or key won the race (see `_store_alone`);
#: in a group a database error (IntegrityError) redoes each caller alone, where it is retried
_RACES = (DuplicateDocument,)


class Intake:
    """Stores checked messages. `on_declared` wakes the signing worker after a commit."""

    def __init__(
        self,
        db: Database,
        notifier: Notifier | None,
        *,
        max_bytes: int = xmlsafe.DEFAULT_MAX_BYTES,
        on_declared: Callable[[], None] | None = None,
        group_commit: bool = True,
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.max_bytes = max_bytes
        self.on_declared = on_declared
        #: concurrent submissions share one transaction (None: each its own)
        self.group = (
            GroupCommit(db, retry_on=_RACES, bulk=partial(_store_fresh, notifier=notifier))
            if group_commit
            else None
        )

    @logs.with_context(lambda _self, code, _data, channel, **_kw: {"enterprise": code})
    @metrics.timed("intake", lambda result: "duplicate" if result.duplicate else "accepted")
    def submit(
        self, enterprise_code: str, data: bytes, channel: str, *, at: datetime | None = None
    ) -> IntakeResult:
        """Check and store one message. `at` is the submission time the rules see (now)."""
        checked = check(data, max_bytes=self.max_bytes)
        when = at or utcnow()
        if self.group is not None and not self.db.in_shared_transaction():
            # Callers submitting at the same moment share one transaction (group_commit.py);
            # each still gets its answer only after its own rows are committed.
            work = _Submission(self, enterprise_code, checked, channel, when)
            result = self.group.run(work)
        else:
            result = self._store_alone(enterprise_code, checked, channel, when)
        if self.on_declared and not result.duplicate:
            self.on_declared()
        return result

    def _store_alone(
        self, enterprise_code: str, checked: Checked, channel: str, at: datetime
    ) -> IntakeResult:
        try:
            return self._store(enterprise_code, checked, channel, at)
        except (IntegrityError, DuplicateDocument):
            # A concurrent submission of the same message or key won the race: its commit
            # failed our insert, or landed between our look for the message (not there yet)
            # and our look for the key (there now). Run again: now it is seen as a duplicate
            # (same message, same records) or refused (another message with the same key).
            return self._store(enterprise_code, checked, channel, at)

    def _store(
        self, enterprise_code: str, checked: Checked, channel: str, at: datetime
    ) -> IntakeResult:
        with self.db.session() as session:
            return self._store_in(enterprise_code, checked, channel, at, session)

    def _store_in(
        self, enterprise_code: str, checked: Checked, channel: str, at: datetime, session: Session
    ) -> IntakeResult:
        ent = _enterprise(session, enterprise_code)
        if ent is None:
            raise InvalidMessage([_sender("BaseTransfer/copCode", None, enterprise_code)])
        check_sender(checked, ent)
        check_parties(session, ent, checked)
        again = _previous(session, ent, checked)
        if again is not None:
            return again
        store_checks(session, ent, checked, at)
        return _store_new(session, ent, checked, channel, self.notifier)


@dataclass(frozen=True)
class _Submission:
    """One caller's message in a group transaction: stored alone (`__call__`), or with the
    group's other new messages by `_store_fresh`."""

    intake: Intake
    enterprise_code: str
    checked: Checked
    channel: str
    at: datetime

    def __call__(self, session: Session) -> IntakeResult:
        return self.intake._store_in(
            self.enterprise_code, self.checked, self.channel, self.at, session
        )


# --- new messages of a group, written together --------------------------------------------------
#
# Why: on PostgreSQL each statement costs a round trip and the driver's and SQLAlchemy's time
# per execution; a one-record message took about seven of them, most of an HTTP process's
# database time (issue 15). A group's new messages need the same reads and writes, so they
# share them: two reads (messages sent before, live documents) and four writes for the
# group. Only the plain case is taken here — a message not sent before, of a kind without
# store checks, every record new (appType 1) with a key no live document and no other message
# of the group has. Everything else (a resend, a modification, a refusal, a kind whose rules
# read the store) runs alone afterwards, in the same transaction, as before.


def _store_fresh(
    session: Session, works: list[Any], *, notifier: Notifier | None
) -> dict[int, IntakeResult]:
    taken = _fresh(session, [(n, w) for n, w in enumerate(works) if _plain(w)])
    if len(taken) < 2:  # one alone costs the same either way
        return {}
    return _write_fresh(session, taken, notifier)


def _plain(work: Any) -> bool:
    if not isinstance(work, _Submission):
        return False
    checked = work.checked
    keys = [r.business_key for r in checked.records]
    return (
        checked.kind.store_checks is None
        and all(r.app_type == AppType.ADD for r in checked.records)
        and len(set(keys)) == len(keys)
    )


@dataclass(frozen=True)
class _Fresh:
    place: int
    work: _Submission
    ent: Enterprise
    #: (enterprise id, message guid): what a message sent again is known by
    guid: tuple[int, str]
    #: (kind, key scope, business key) of each record
    keys: frozenset[tuple[str, int, str]]


def _fresh(session: Session, plain: list[tuple[int, _Submission]]) -> list[_Fresh]:
    """Those of the plain works that pass their sender checks and are new: their guid unused
    by their enterprise, their keys without a live document, and neither shared with an
    earlier work of the group (that one goes alone, after, and sees this one's rows)."""
    found = [f for f in (_accepted(session, n, w) for n, w in plain) if f is not None]
    if len(found) < 2:
        return found
    sent = _guids_used(session, found)
    live = _keys_live(session, found)
    taken: list[_Fresh] = []
    guids: set[tuple[int, str]] = set()
    keys: set[tuple[str, int, str]] = set()
    for f in found:
        if f.guid in sent or f.guid in guids or f.keys & live or f.keys & keys:
            continue
        guids.add(f.guid)
        keys |= f.keys
        taken.append(f)
    return taken


def _accepted(session: Session, place: int, work: _Submission) -> _Fresh | None:
    ent = _enterprise(session, work.enterprise_code)
    if ent is None:
        return None
    try:
        check_sender(work.checked, ent)
        check_parties(session, ent, work.checked)
    except InvalidMessage:
        return None  # refused when it runs alone: the refusal is its own
    checked = work.checked
    scope = key_scope(checked.kind, ent)
    keys = frozenset((checked.kind.name, scope, key_text(r.business_key)) for r in checked.records)
    return _Fresh(place, work, ent, (ent.id, checked.root.get("guid", "")), keys)


def _guids_used(session: Session, found: list[_Fresh]) -> set[tuple[int, str]]:
    m = MESSAGES.c
    by_ent: dict[int, set[str]] = {}
    for f in found:
        by_ent.setdefault(f.ent.id, set()).add(f.guid[1])
    where = or_(*(and_(m.enterprise_id == e, m.guid.in_(g)) for e, g in by_ent.items()))
    return {(e, g) for e, g in session.execute(select(m.enterprise_id, m.guid).where(where))}


def _keys_live(session: Session, found: list[_Fresh]) -> set[tuple[str, int, str]]:
    """The keys among the group's that have a live document, any owner's (locked: a live
    one sends its work down the path that modifies or refuses)."""
    d = DOCUMENTS.c
    by_scope: dict[tuple[str, int], set[str]] = {}
    for f in found:
        for kind, scope, key in f.keys:
            by_scope.setdefault((kind, scope), set()).add(key)
    where = or_(
        *(
            and_(d.kind == kind, d.key_scope == scope, d.business_key.in_(keys))
            for (kind, scope), keys in by_scope.items()
        )
    )
    stmt = select(d.kind, d.key_scope, d.business_key).where(
        where, d.status != Status.DELETED.value
    )
    return {(k, s, b) for k, s, b in session.execute(stmt.with_for_update())}


def _write_fresh(
    session: Session, taken: list[_Fresh], notifier: Notifier | None
) -> dict[int, IntakeResult]:
    now = utcnow()
    rows = [_message_row(f.ent, f.work.checked, f.work.channel, now) for f in taken]
    stmt = insert(MESSAGES).returning(MESSAGES.c.enterprise_id, MESSAGES.c.guid, MESSAGES.c.id)
    ids = {(e, g): i for e, g, i in session.execute(stmt, rows)}
    msg_ids = [ids[f.guid] for f in taken]
    planned = [[Planned(rec, None) for rec in f.work.checked.records] for f in taken]
    docs = _documents_of_group(session, taken, msg_ids, planned, now)
    versions = [
        _version_row(msg_id, d, p, now)
        for msg_id, ds, ps in zip(msg_ids, docs, planned, strict=True)
        for d, p in zip(ds, ps, strict=True)
    ]
    session.execute(insert(VERSIONS), versions)
    changes = [
        (d, _change(p))
        for ds, ps in zip(docs, planned, strict=True)
        for d, p in zip(ds, ps, strict=True)
    ]
    record_all(session, changes, notifier, at=now)
    return {
        f.place: IntakeResult(
            msg_id,
            f.work.checked.kind.message_type,
            False,
            tuple(_stored_ref(d, p) for d, p in zip(ds, ps, strict=True)),
        )
        for f, msg_id, ds, ps in zip(taken, msg_ids, docs, planned, strict=True)
    }


def _documents_of_group(
    session: Session,
    taken: list[_Fresh],
    msg_ids: list[int],
    planned: list[list[Planned]],
    now: datetime,
) -> list[list[DocRef]]:
    """Every new document of the group in one statement (`_insert_documents`), as a list per
    message."""
    rows = [
        [
            _document_row(f.ent, f.work.checked.kind, p.record, _pre_no(msg_id, n), now)
            for n, p in enumerate(ps, start=1)
        ]
        for f, msg_id, ps in zip(taken, msg_ids, planned, strict=True)
    ]
    made = iter(_insert_documents(session, [row for rs in rows for row in rs]))
    return [[next(made) for _row in rs] for rs in rows]


def _enterprise(session: Session, code: str) -> Enterprise | None:
    """The enterprise, read once per transaction (a group holds many of its submissions)."""
    known: dict[str, Enterprise] = session.info.setdefault("intake_enterprises", {})
    ent = known.get(code)
    if ent is None:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        if ent is not None:
            known[code] = ent
    return ent


def check_parties(session: Session, ent: Enterprise, checked: Checked) -> None:
    """The parties each record names include the declarer (R-COM-3, gateway/delegations.py)."""
    problems = delegations.party_violations(session, ent, checked.kind, checked.records)
    if problems:
        raise InvalidMessage(problems)


def key_scope(kind: DocumentKind, ent: Enterprise) -> int:
    """The namespace of a record's business key: its owner's, where the key names none."""
    return ent.id if kind.key_per_owner else 0


def store_checks(session: Session, ent: Enterprise, checked: Checked, at: datetime) -> None:
    """The kind's rules that need the store or the clock (e.g. appointment lead times)."""
    hook = checked.kind.store_checks
    if hook is not None:
        problems = hook(session, ent, checked, at)
        if problems:
            raise InvalidMessage(problems)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _previous(session: Session, ent: Enterprise, checked: Checked) -> IntakeResult | None:
    """The same message sent again gives the same records, not new ones."""
    guid = checked.root.get("guid", "")
    m = MESSAGES.c
    # The id alone first: a new message (the usual case) costs no ORM load.
    found = session.scalar(select(m.id).where(m.enterprise_id == ent.id, m.guid == guid))
    if found is None:
        return None
    msg = session.get_one(Message, found)
    if msg.sha256 != _sha(checked.data):
        raise InvalidMessage(
            [
                Violation(
                    rule="R-COM-1.guid",
                    field="guid",
                    message=f"message guid already used by message {msg.id} with other content;"
                    " every message needs a new guid",
                    value=guid,
                )
            ]
        )
    docs = [v.document for v in msg.versions]
    return IntakeResult(msg.id, msg.msg_type, True, tuple(_stored(d) for d in docs))


def _stored(doc: Document) -> StoredDocument:
    return StoredDocument(
        id=doc.id,
        kind=doc.kind,
        business_key=doc.business_key,
        status=doc.status,
        pre_no=doc.pre_no,
        version=len(doc.versions),
    )


def _message_state(records: Sequence[Record]) -> str:
    if all(r.app_type == AppType.DELETE for r in records):
        return "deleted"
    declare = records[0].app_status == AppStatus.DECLARE
    return Status.PENDING_SIGN.value if declare else Status.SAVED.value


def _store_new(
    session: Session, ent: Enterprise, checked: Checked, channel: str, notifier: Notifier | None
) -> IntakeResult:
    """The message, its documents, versions and history, in a handful of Core statements.

    Why not the ORM: its unit of work was most of intake's time (a one-record message cost
    three flushes of six objects, with the identity-map bookkeeping around them), for rows this
    transaction writes once and never reads back."""
    planned = _plan(session, ent, checked)  # reads first: nothing is pending yet
    writing(session)  # a failure from here on is the group's, not this caller's alone
    now = utcnow()
    row = _message_row(ent, checked, channel, now)
    msg_id = session.execute(insert(MESSAGES).returning(MESSAGES.c.id), row).scalar_one()
    docs = _documents(session, ent, msg_id, checked.kind, planned, now)
    pairs = list(zip(docs, planned, strict=True))
    session.execute(insert(VERSIONS), [_version_row(msg_id, d, p, now) for d, p in pairs])
    record_all(session, [(d, _change(p)) for d, p in pairs], notifier, at=now)
    stored = tuple(_stored_ref(d, p) for d, p in pairs)
    return IntakeResult(msg_id, checked.kind.message_type, False, stored)


@dataclass(frozen=True)
class Live:
    """The live document a record modifies, deletes or declares again, and its versions."""

    doc: DocRef
    versions: int


@dataclass(frozen=True)
class Planned:
    record: Record
    live: Live | None

    @property
    def version(self) -> int:
        return 1 if self.live is None else self.live.versions + 1


def _message_row(
    ent: Enterprise, checked: Checked, channel: str, now: datetime
) -> dict[str, object]:
    return {
        "enterprise_id": ent.id,
        "msg_type": checked.kind.message_type,
        "guid": checked.root.get("guid", ""),
        "sha256": _sha(checked.data),
        "channel": channel,
        "app_status": checked.records[0].app_status,
        "state": _message_state(checked.records),
        "original": checked.data,
        "attempts": 0,
        "created_at": now,
    }


def _documents(
    session: Session,
    ent: Enterprise,
    msg_id: int,
    kind: DocumentKind,
    planned: list[Planned],
    now: datetime,
) -> list[DocRef]:
    """Each record's document: the live one, or a new one (all inserted in one statement).

    The ids come back by pre-entry number, unique by construction, rather than in the order
    of the rows: asked for that order (`sort_by_parameter_order`), SQLAlchemy cannot rely on
    SQLite to keep it and inserted the rows one statement each, 100 for 100 records."""
    fresh = [(n, p.record) for n, p in enumerate(planned, start=1) if p.live is None]
    rows = [_document_row(ent, kind, rec, _pre_no(msg_id, n), now) for n, rec in fresh]
    made = iter(_insert_documents(session, rows))
    return [next(made) if p.live is None else p.live.doc for p in planned]


def _insert_documents(session: Session, rows: list[dict[str, Any]]) -> list[DocRef]:
    """New documents in one statement, their refs in the order of `rows`."""
    if not rows:
        return []
    stmt = insert(DOCUMENTS).returning(DOCUMENTS.c.pre_no, DOCUMENTS.c.id)
    ids = {pre_no: doc_id for pre_no, doc_id in session.execute(stmt, rows)}
    return [
        DocRef(
            ids[r["pre_no"]], r["enterprise_id"], r["kind"], r["business_key"], r["pre_no"], None
        )
        for r in rows
    ]


def _pre_no(msg_id: int, index: int) -> str:
    # Pre-entry number (预录入编号): 18 characters like customs' preNo, unique per gateway:
    # the message id and the record's place in it (1..100).
    return f"GW{msg_id:013d}{index:03d}"


def _document_row(
    ent: Enterprise, kind: DocumentKind, rec: Record, pre_no: str, now: datetime
) -> dict[str, Any]:
    target = _target(rec)
    return {
        "enterprise_id": ent.id,
        "kind": kind.name,
        "business_key": key_text(rec.business_key),
        "key_scope": key_scope(kind, ent),
        "status": target.value,
        "pre_no": pre_no,
        "customs_numbers": {},
        "status_info": _why(rec, 1),
        "created_at": now,
        "updated_at": now,
    }


def _version_row(msg_id: int, doc: DocRef, plan: Planned, now: datetime) -> dict[str, Any]:
    rec = plan.record
    return {
        "document_id": doc.id,
        "message_id": msg_id,
        "number": plan.version,
        "app_type": rec.app_type,
        "app_status": rec.app_status,
        "record_guid": rec.guid,
        "created_at": now,
    }


def _change(plan: Planned) -> Change:
    return Change(_target(plan.record), Source.GATEWAY, _why(plan.record, plan.version))


def _stored_ref(doc: DocRef, plan: Planned) -> StoredDocument:
    return StoredDocument(
        id=doc.id,
        kind=doc.kind,
        business_key=doc.business_key,
        status=_target(plan.record).value,
        pre_no=doc.pre_no,
        version=plan.version,
    )


def _plan(session: Session, ent: Enterprise, checked: Checked) -> list[Planned]:
    """Find each record's live document and refuse every conflict at once (R-COM-5)."""
    planned: list[Planned] = []
    duplicates: list[Violation] = []
    conflicts: list[Violation] = []
    seen: set[tuple[str, ...]] = set()
    keys = [r.business_key for r in checked.records]
    live = _live(session, checked.kind, keys, key_scope(checked.kind, ent))
    for rec in checked.records:
        if rec.business_key in seen:
            duplicates.append(_dup(checked.kind, rec, "appears twice in this message"))
            continue
        seen.add(rec.business_key)
        found = live.get(key_text(rec.business_key))
        problem = _conflict(checked.kind, rec, found, ent)
        if problem is None:
            planned.append(Planned(rec, found))
        elif problem.rule == "R-COM-5.duplicate":
            duplicates.append(problem)
        else:
            conflicts.append(problem)
    if duplicates:
        raise DuplicateDocument(duplicates + conflicts)
    if conflicts:
        raise StateConflict(conflicts)
    return planned


def _live(
    session: Session, kind: DocumentKind, keys: list[tuple[str, ...]], scope: int
) -> dict[str, Live]:
    """The live documents of these keys in this key scope, locked for this transaction, with
    their version counts (one query; a second only when some exist)."""
    d = DOCUMENTS.c
    stmt = select(*DOC_REF_COLUMNS).where(
        d.kind == kind.name,
        d.business_key.in_([key_text(k) for k in keys]),
        d.status != Status.DELETED.value,
        d.key_scope == scope,
    )
    docs = [DocRef.from_row(row) for row in session.execute(stmt.with_for_update())]
    if not docs:
        return {}
    v = VERSIONS.c
    counts = dict(
        session.execute(
            select(v.document_id, func.max(v.number))
            .where(v.document_id.in_([doc.id for doc in docs]))
            .group_by(v.document_id)
        ).all()
    )
    return {doc.business_key: Live(doc, counts.get(doc.id, 0)) for doc in docs}


def _key_label(kind: DocumentKind, rec: Record) -> str:
    return ", ".join(f"{f}={v}" for f, v in zip(kind.key_fields, rec.business_key, strict=True))


def _where(kind: DocumentKind, rec: Record) -> str:
    return f"{kind.record_tag}({_key_label(kind, rec)})/appType"


def _dup(kind: DocumentKind, rec: Record, why: str) -> Violation:
    return Violation(
        rule="R-COM-5.duplicate",
        field=f"{kind.record_tag}({_key_label(kind, rec)})",
        message=f"{kind.name} {why}; send appType 2 to modify it",
    )


def _conflict(
    kind: DocumentKind, rec: Record, live: Live | None, ent: Enterprise
) -> Violation | None:
    if live is not None and live.doc.enterprise_id != ent.id:
        # Another declarer for the same party (the key's party delegated to both): a new
        # record cannot take the key, but nothing of the other's record is told, and
        # modify/delete get the answer of a key that does not exist.
        if rec.app_type == AppType.ADD:
            return _dup(kind, rec, "already exists")
        live = None
    if live is None:
        if rec.app_type == AppType.ADD:
            return None
        return Violation(
            "R-COM-5",
            _where(kind, rec),
            f"no live {kind.name} with this key to modify or delete",
            value=rec.app_type,
        )
    status = status_of(live.doc.status or "")
    if rec.app_type == AppType.ADD:
        # A saved draft is declared by sending it again with appType 1 (R-COM-2).
        return None if status is Status.SAVED else _dup(kind, rec, f"already exists ({status})")
    operation = Operation.DELETE if rec.app_type == AppType.DELETE else Operation.MODIFY
    if kind.allows(operation, status):
        return None
    states = kind.allowed_in(operation)
    same = kind.allowed_in(Operation.MODIFY) == kind.allowed_in(Operation.DELETE)
    what = "modify and delete are" if same else f"{operation.value} is"
    return Violation(
        "R-COM-5",
        _where(kind, rec),
        f"{kind.name} is {status.value}; {what} allowed only when {_allowed(states)}",
        value=rec.app_type,
    )


def _allowed(states: frozenset[Any]) -> str:
    """The states an operation is allowed in, in words: R-COM-5's, plus the kind's own (an
    inventory list customs revoked may be sent again, R-ECX-5), or only its own where its
    manual allows fewer (an appointment: 暂存)."""
    if not states >= MODIFIABLE:
        return " or ".join(sorted(s.value for s in states))
    own = sorted(s.value for s in states - MODIFIABLE)
    base = "saved, returned, send failed or storage failed"
    if not own:
        return base
    listed = own[0] if len(own) == 1 else f"{', '.join(own[:-1])} or {own[-1]}"
    return f"{base}, or {listed}"


def _target(rec: Record) -> Status:
    if rec.app_type == AppType.DELETE:
        return Status.DELETED
    return Status.PENDING_SIGN if rec.app_status == AppStatus.DECLARE else Status.SAVED


_VERBS = {AppType.ADD: "added", AppType.MODIFY: "modified", AppType.DELETE: "deleted"}


def _why(rec: Record, number: int) -> str:
    what = _VERBS.get(AppType(rec.app_type), "received")
    declare = "declared" if rec.app_status == AppStatus.DECLARE else "saved"
    return f"version {number} {what} and {declare}"
