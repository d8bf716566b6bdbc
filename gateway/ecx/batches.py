"""Batch declare and batch delete (R-ECX-3, R-COM-2, R-COM-5; manual 2.3, 3.7, 4.1, 5.1).

An enterprise picks many of its records and declares them (申报: appStatus 2) or deletes them
(appType 3) at once. Each record's newest version is issued again from the stored original
bytes — its record element copied, with a new guid and appTime — and goes through
`Intake.submit`, so validation, storage, signing and sending stay in one path.

The manual lets a batch hold records "of every status"; each record is still judged by
R-COM-5 on its own: declaring needs a saved draft, or a record customs has not stored (returned,
send or storage failed), which is declared again as a modification; deleting needs one of those
states. One bad record never sinks the others: records are sent together (up to 100 per
message, so one signature covers many, R-COM-1.count), and a message that is refused is sent
again record by record, so each record gets its own outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.codes import CHINA_TZ, DSIG_NS, AppStatus, AppType
from gateway.core import checks
from gateway.core.enterprises import Caller
from gateway.core.intake import Intake, IntakeResult
from gateway.core.kinds import DocumentKind, key_text
from gateway.core.models import Document, Enterprise, Version, utcnow
from gateway.core.queries import get_document
from gateway.core.status import Status, status_of
from gateway.ecx.kinds import KINDS as ECX_KINDS
from gateway.ecx.kinds_full import KINDS as ECX_FULL_KINDS
from gateway.errors import GatewayError, InvalidMessage, NotFound, Violation
from receipts.build import new_guid

DECLARE, DELETE = "declare", "delete"
STATE = "R-COM-5"
#: the CEB export kinds; appointments have their own batch delete (R-APT-10)
BATCH_KINDS = {k.name: k for k in (*ECX_KINDS, *ECX_FULL_KINDS)}
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class Outcome:
    """What happened to one requested record."""

    id: int
    ok: bool
    status: str | None = None
    message_id: int | None = None
    error: str | None = None
    violations: tuple[Violation, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "ok": self.ok}
        for name in ("status", "message_id", "error"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.violations:
            out["violations"] = [v.as_dict() for v in self.violations]
        return out


@dataclass(frozen=True)
class _Item:
    """A record ready to issue again: its element (already restamped) and its message."""

    doc_id: int
    enterprise: str
    kind: DocumentKind
    app_status: str
    record: etree._Element
    envelope: etree._Element  # the original message's root, for BaseTransfer and the rest
    size: int = 0  # serialised bytes, to keep a message under the size limit


# --- choosing what to send ----------------------------------------------------------------


def _refusal(doc: Document, kind: DocumentKind, action: str) -> str | None:
    """Why R-COM-5 refuses `action` on this record, or None when it is allowed."""
    status = status_of(doc.status)
    if status is Status.DELETED:
        return "is deleted already"
    if status in kind.modifiable_states:
        return None
    verb = "declared again" if action == DECLARE else "deleted"
    return (
        f"is {status.value}: only a saved record, or one customs has not stored (returned, "
        f"send failed, storage failed), can be {verb}"
    )


def _app_type(doc: Document, newest: Version, action: str) -> str:
    if action == DELETE:
        return AppType.DELETE.value
    if doc.status == Status.SAVED.value and newest.app_type in (AppType.ADD, AppType.MODIFY):
        return newest.app_type  # a saved draft is declared as it was saved (R-COM-2)
    return AppType.MODIFY.value  # a returned or failed record is sent again as a change


def _load(session: Session, caller: Caller, doc_id: int, action: str) -> _Item | Outcome:
    try:
        doc = get_document(session, caller, doc_id)
    except NotFound as exc:
        return Outcome(doc_id, False, error=exc.message)
    kind = BATCH_KINDS.get(doc.kind)
    if kind is None:
        text = f"{doc.kind} records are not declared or deleted in export batches"
        return _refused(doc, STATE, "kind", text)
    why = _refusal(doc, kind, action)
    if why is not None:
        return _refused(doc, STATE, f"{kind.record_tag}({doc.business_key})/status", why)
    return _item(session, doc, kind, action)


def _refused(doc: Document, rule: str, where: str, text: str) -> Outcome:
    violation = Violation(rule, where, text, value=doc.status)
    return Outcome(doc.id, False, doc.status, error="refused", violations=(violation,))


def _item(session: Session, doc: Document, kind: DocumentKind, action: str) -> _Item | Outcome:
    newest = doc.versions[-1]
    root = xmlsafe.parse(bytes(newest.message.original)).getroot()
    record = next(
        (r for r in kind.records(root) if key_text(r.business_key) == doc.business_key), None
    )
    if record is None:  # the archive no longer holds what was stored: nothing to re-issue
        return _refused(doc, "R-COM-1", "original", "record not found in the stored original")
    app_status = AppStatus.DECLARE.value if action == DECLARE else newest.app_status
    element = _restamp(record.element, kind, _app_type(doc, newest, action), app_status)
    ent = session.get(Enterprise, doc.enterprise_id)
    assert ent is not None  # foreign key
    size = len(etree.tostring(element))
    return _Item(doc.id, ent.code, kind, app_status, element, root, size)


def _restamp(
    original: etree._Element, kind: DocumentKind, app_type: str, app_status: str
) -> etree._Element:
    """A copy of the record with a new guid and appTime and the action's codes."""
    element = _copy(original)
    head = element
    if kind.head_tag is not None:
        head = next(c for c in element if _local(c) == kind.head_tag)
    now = f"{utcnow().astimezone(CHINA_TZ):%Y%m%d%H%M%S}"
    values = {"guid": new_guid(), "appTime": now, "appType": app_type, "appStatus": app_status}
    for child in head:
        if _local(child) in values:
            child.text = values[_local(child)]
    return element


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))  # noqa: S320 - our own serialisation


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


# --- building and sending -------------------------------------------------------------------


def _groups(items: Iterable[_Item], max_bytes: int) -> Iterator[list[_Item]]:
    """Records that can share a message: same enterprise, kind and appStatus (R-COM-2.mixed),
    at most 100 (R-COM-1.count) and half the size limit, leaving room for the envelope."""
    by_key: dict[tuple[str, str, str], list[_Item]] = {}
    for item in items:
        by_key.setdefault((item.enterprise, item.kind.name, item.app_status), []).append(item)
    for group in by_key.values():
        chunk: list[_Item] = []
        for item in group:
            if chunk and (
                len(chunk) >= checks.MAX_RECORDS or _size(chunk) + item.size > max_bytes // 2
            ):
                yield chunk
                chunk = []
            chunk.append(item)
        if chunk:
            yield chunk


def _size(chunk: list[_Item]) -> int:
    return sum(i.size for i in chunk)


def build(items: Sequence[_Item]) -> bytes:
    """One message of these records, with the first record's envelope (BaseTransfer,
    BaseSubscribe, ExtendMessage), a new guid and no signature: the gateway signs it."""
    first = items[0].envelope
    root = etree.Element(first.tag, dict(first.attrib), nsmap=first.nsmap)
    root.set("guid", new_guid())
    root.extend(_copy(i.record) for i in items)
    record_tag = items[0].kind.record_tag
    for child in first:
        if isinstance(child.tag, str) and _local(child) != record_tag and not _is_signature(child):
            root.append(_copy(child))
    return _DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def _is_signature(element: etree._Element) -> bool:
    return etree.QName(element).namespace == DSIG_NS


def _send(intake: Intake, group: list[_Item], channel: str) -> list[Outcome]:
    if len(group) > 1:
        try:
            return _outcomes(group, intake.submit(group[0].enterprise, build(group), channel))
        except InvalidMessage:
            pass  # one record refused sinks its message: send each alone for its own outcome
    return [_send_one(intake, item, channel) for item in group]


def _send_one(intake: Intake, item: _Item, channel: str) -> Outcome:
    try:
        result = intake.submit(item.enterprise, build([item]), channel)
    except InvalidMessage as exc:
        return Outcome(
            item.doc_id, False, error=type(exc).__name__, violations=tuple(exc.violations)
        )
    except GatewayError as exc:
        return Outcome(item.doc_id, False, error=exc.message)
    return _outcomes([item], result)[0]


def _outcomes(group: list[_Item], result: IntakeResult) -> list[Outcome]:
    stored = {d.id: d for d in result.documents}
    return [
        Outcome(i.doc_id, True, stored[i.doc_id].status, result.message_id)
        if i.doc_id in stored
        else Outcome(i.doc_id, False, error="the message stored another record under this key")
        for i in group
    ]


# --- entry point ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchReport:
    action: str
    outcomes: tuple[Outcome, ...]

    def as_dict(self) -> dict[str, Any]:
        done = sum(1 for o in self.outcomes if o.ok)
        return {
            "action": self.action,
            "requested": len(self.outcomes),
            "done": done,
            "refused": len(self.outcomes) - done,
            "results": [o.as_dict() for o in self.outcomes],
        }


def run(
    intake: Intake, caller: Caller, action: str, doc_ids: Sequence[int], *, channel: str = "http"
) -> BatchReport:
    """Declare or delete these records of the caller; outcomes in the order asked."""
    if action not in (DECLARE, DELETE):
        raise InvalidMessage([Violation(STATE, "action", "is declare or delete", value=action)])
    unique = list(dict.fromkeys(doc_ids))
    with intake.db.session() as session:
        loaded = [_load(session, caller, n, action) for n in unique]
    done = {o.id: o for o in loaded if isinstance(o, Outcome)}
    items = [i for i in loaded if isinstance(i, _Item)]
    for group in _groups(items, intake.max_bytes):
        done.update({o.id: o for o in _send(intake, group, channel)})
    return BatchReport(action, tuple(done[n] for n in unique))
