"""A record as the enterprise last sent it, and a new draft copied from it (复制).

The archived original of a record's latest version is what the enterprise last said of it:
printing lays it out and copying starts a new draft from it. A copy is a new message that
goes through the intake like any other — XSD, business checks, its own pre-entry number — so
no rule can be skipped by copying: it is the original's record alone, saved (appType 1,
appStatus 2 → 1), with a new business key, a new guid and none of customs' numbers.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.codes import CHINA_TZ
from gateway.core import registry
from gateway.core.enterprises import Caller
from gateway.core.kinds import DocumentKind, Operation, key_text
from gateway.core.models import Document, Message, Version
from gateway.core.queries import get_document
from gateway.core.status import status_of
from gateway.errors import InvalidMessage, StateConflict, Violation

COPY_RULE = "R-COM-5"  # the operations each state allows (复制: any state where declared)
APP_TYPE_NEW, APP_STATUS_SAVED = "1", "1"


def kind_of(doc: Document) -> DocumentKind:
    found = registry.kind(doc.kind)
    if found is None:  # a system no longer installed: its records stay readable, not copied
        raise StateConflict([Violation(COPY_RULE, "kind", "kind not installed", value=doc.kind)])
    return found


def latest_element(session: Session, doc: Document) -> etree._Element:
    """The record element of `doc` in the original of its latest version (parsed hardened)."""
    message = session.scalars(
        select(Message)
        .join(Version, Version.message_id == Message.id)
        .where(Version.document_id == doc.id)
        .order_by(Version.number.desc())
        .limit(1)
    ).one()
    kind = kind_of(doc)
    root = xmlsafe.parse(bytes(message.original)).getroot()
    for record in kind.records(root):
        if key_text(record.business_key) == doc.business_key:
            return record.element
    raise LookupError(f"document {doc.id}: its record is not in message {message.id}")


def record_fields(session: Session, caller: Caller, doc_id: int) -> tuple[Document, dict]:
    """The caller's document and its latest record's head fields (another's: NotFound)."""
    doc = get_document(session, caller, doc_id)
    kind = kind_of(doc)
    return doc, dict(kind.record(latest_element(session, doc)).fields)


def copy_message(
    session: Session, caller: Caller, doc_id: int, new_key: Mapping[str, str]
) -> bytes:
    """A new message holding a saved draft copied from the caller's record `doc_id`, its
    business key fields set from `new_key` (which must change the key); submit it through
    the intake. Refused where the kind does not allow copying in the record's state."""
    doc = get_document(session, caller, doc_id)
    kind = kind_of(doc)
    _check_copy_allowed(kind, doc)
    _check_new_key(kind, new_key)
    element = latest_element(session, doc)
    old = dict(zip(kind.key_fields, doc.business_key.split("|"), strict=False))
    if all(old.get(f) == v for f, v in new_key.items()):
        message = "a copy is a new record: its key must differ from the original's"
        raise InvalidMessage([Violation(COPY_RULE, ",".join(new_key), message)])
    root = _message_with(element, kind)
    record = next(r for r in root if xmlsafe.local_name(r) == kind.record_tag)
    head = _head(record, kind)
    _set_fields(head, {**dict(new_key), "appType": APP_TYPE_NEW, "appStatus": APP_STATUS_SAVED,
                       "guid": str(uuid.uuid4()).upper(), "appTime": _now()})  # fmt: skip
    _clear_fields(head, kind.customs_number_fields)
    root.set("guid", str(uuid.uuid4()).upper())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _check_copy_allowed(kind: DocumentKind, doc: Document) -> None:
    if not kind.allows(Operation.COPY, status_of(doc.status)):
        message = f"{kind.title or kind.name} cannot be copied (复制 not offered for it)"
        raise StateConflict([Violation(COPY_RULE, "status", message, value=doc.status)])


def _check_new_key(kind: DocumentKind, new_key: Mapping[str, str]) -> None:
    extra = sorted(set(new_key) - set(kind.key_fields) - set(kind.party_fields))
    if extra:
        message = f"a copy sets only its key fields ({', '.join(kind.key_fields)})"
        raise InvalidMessage([Violation(COPY_RULE, extra[0], message, value=new_key[extra[0]])])
    if not any(v.strip() for v in new_key.values()):
        fields = ", ".join(f for f in kind.key_fields if f not in kind.party_fields)
        message = f"a copy is a new record: give its own {fields}"
        raise InvalidMessage([Violation(COPY_RULE, fields, message)])


def _message_with(element: etree._Element, kind: DocumentKind) -> etree._Element:
    """The original message's root with `element` as its only record."""
    original_root = element.getparent()
    root = copy.deepcopy(original_root)
    index = list(original_root).index(element)
    for position, child in reversed(list(enumerate(root))):
        if xmlsafe.local_name(child) == kind.record_tag and position != index:
            root.remove(child)
    return root


def _head(record: etree._Element, kind: DocumentKind) -> etree._Element:
    if kind.head_tag is None:
        return record
    return next(c for c in record if xmlsafe.local_name(c) == kind.head_tag)


def _set_fields(head: etree._Element, values: Mapping[str, str]) -> None:
    for child in head:
        name = xmlsafe.local_name(child)
        if name in values:
            child.text = values[name]


def _clear_fields(head: etree._Element, names: tuple[str, ...]) -> None:
    for child in list(head):
        if xmlsafe.local_name(child) in names:
            head.remove(child)


def _now() -> str:
    return f"{datetime.now(CHINA_TZ):%Y%m%d%H%M%S}"
