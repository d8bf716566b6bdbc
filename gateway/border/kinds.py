"""The border-trade document kinds and their intake hooks (`store_checks`).

Three kinds, one per message (`xsd/bdr_messages.xsd`):
- `brd_entry` (BDR101): 进境申报单, an application (申报类型 00) or a change (变更, 01);
- `brd_import` (BDR103): 进口申报单, the same;
- `brd_revoke` (BDR105): 撤销 of an approved or released declaration, with its own
  pre-entry number and status.

Each hook runs inside the intake transaction: the form's rules (`rules`), then those that need
the store (the supervised place and its operator, the goods catalogue, the record a change or
revoke names and its state), then — when all pass — the record's row (`store.take`). The
operations each state allows are the manual's (§6), declared once here and used by the
terminal's actions (`declarations`) and the pages (`queries`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.border import attachments, messages, rules, store
from gateway.border.codes import (
    CHANGEABLE,
    EDITABLE,
    RECEIPT_STATUSES,
    REVOCABLE,
    BdrStatus,
    DeclType,
    Form,
)
from gateway.codes import AppStatus, AppType
from gateway.core.history import Change, Notifier
from gateway.core.kinds import DocumentKind, Operation
from gateway.core.models import Document, Enterprise
from gateway.core.status import Status
from gateway.errors import Violation

Hook = Callable[[Session, Enterprise, Any, datetime], list[Violation]]

#: every status a border record can be in (复制 is allowed from any, manual §4.4)
ALL_STATES: frozenset[StrEnum] = frozenset(Status) | frozenset(BdrStatus)


def _declaration_hook(form: Form) -> Hook:
    record = messages.message_of(form)[1]

    def hook(session: Session, ent: Enterprise, checked: Any, at: datetime) -> list[Violation]:
        rec = checked.records[0]
        if rec.app_type == AppType.DELETE:
            return []  # the core checks the state (R-COM-5); a delete names its key only
        values = messages.read(rec.element)
        head = values["head"]
        problems = rules.check_form(form, values)
        problems += store.place_problems(session, ent, record, head)
        problems += store.catalogue_problems(session, record, values)
        problems += attachments.problems(session, record, values)
        problems += store.linked_entry_problems(session, record, head)
        doc = _live(session, KIND_NAMES[form], head.get("preEntryNo", ""))
        problems += store.editable_problems(session, doc, record, rec.app_type)
        original = None
        if head.get("declType") == DeclType.CHANGE and not problems:
            original, found = store.original_problems(
                session, record, form, head, CHANGEABLE, "变更 (change)"
            )
            problems += found
        if not problems:
            declared = rec.app_status == AppStatus.DECLARE
            store.take(session, form, values, at, declared=declared, original=original)
        return problems

    return hook


def _revoke_hook(session: Session, ent: Enterprise, checked: Any, at: datetime) -> list[Violation]:
    rec = checked.records[0]
    if rec.app_type == AppType.DELETE:
        return []
    values = messages.read(rec.element)
    head = values["head"]
    problems = rules.check_revoke(values)
    problems += store.place_problems(session, ent, "Revoke", head)
    if problems:
        return problems
    form = Form(head["origPreEntryNo"][4:6])
    original, problems = store.original_problems(
        session, "Revoke", form, head, REVOCABLE, "撤销 (revoke)"
    )
    if original is not None and original.pre_entry_no != head["origPreEntryNo"]:
        problems.append(
            Violation(
                rules.STATE_RULE,
                "Revoke/origPreEntryNo",
                "not the pre-entry number of the record origDeclNo names",
                value=head["origPreEntryNo"],
            )
        )
    if not problems:
        store.take(session, None, values, at, declared=True, original=original)
    return problems


def _live(session: Session, kind: str, key: str) -> Document | None:
    return session.scalar(
        select(Document).where(
            Document.kind == kind,
            Document.business_key == key,
            Document.status != Status.DELETED.value,
        )
    )


def _after_receipt(
    session: Session,
    doc: Document,
    change: Change,
    receipt: dict[str, str],
    notifier: Notifier | None,
) -> None:
    """Keep customs' number and last opinion (监管审核意见, a return's reasons) with the row."""
    decl = store.row(session, doc.business_key)
    if decl is None:
        return
    if receipt.get("declNo"):
        decl.decl_no = receipt["declNo"]
    if change.info and change.to is Status.RETURNED:
        decl.review_opinion = change.info[:2000]


KIND_NAMES = {Form.ENTRY: store.ENTRY_KIND, Form.IMPORT: store.IMPORT_KIND}
_RECEIPT_FIELDS = "guid preEntryNo declNo?"

#: the manual's operations by state (§6): 修改/删除 in EDITABLE (and the gateway's own send
#: of a 待认证 record once every resident passed: `store.editable_problems`), 变更 in 改单,
#: 单证放行, 实货放行, 撤销 in 审核通过, 单证放行, 复制 from any
OPERATIONS: dict[Operation, frozenset[StrEnum]] = {
    Operation.MODIFY: EDITABLE | {BdrStatus.PENDING_AUTH},
    Operation.DELETE: EDITABLE,
    Operation.CHANGE: CHANGEABLE,
    Operation.REVOKE: REVOCABLE,
    Operation.COPY: ALL_STATES - {Status.DELETED},
}


def _declaration_kind(
    form: Form, message: str, receipt: str, record: str, title: str
) -> DocumentKind:
    return DocumentKind(
        name=KIND_NAMES[form],
        title=title,
        message_type=message,
        receipt_type=receipt,
        record_tag=record,
        head_tag=None,
        key_fields=("preEntryNo",),
        receipt_entity=f"{record}Return",
        receipt_fields=_RECEIPT_FIELDS,
        signature_required=True,
        final_states=frozenset({BdrStatus.REVOKE_GRANTED}),
        modifiable_states=EDITABLE,
        customs_number_fields=("declNo",),
        receipt_echo_fields=("guid", "preEntryNo"),
        store_checks=_declaration_hook(form),
        receipt_statuses=RECEIPT_STATUSES,
        after_change=_after_receipt,
        operations=OPERATIONS,
    )


ENTRY = _declaration_kind(
    Form.ENTRY,
    "BDR101Message",
    "BDR102Message",
    messages.ENTRY_RECORD,
    "entry declaration (边民互市进境申报单)",
)
IMPORT = _declaration_kind(
    Form.IMPORT,
    "BDR103Message",
    "BDR104Message",
    messages.IMPORT_RECORD,
    "import declaration (边民互市进口申报单)",
)
REVOKE = DocumentKind(
    name=store.REVOKE_KIND,
    title="revoke (边民互市撤销)",
    message_type="BDR105Message",
    receipt_type="BDR106Message",
    record_tag=messages.REVOKE_RECORD,
    head_tag=None,
    key_fields=("preEntryNo",),
    receipt_entity="RevokeReturn",
    receipt_fields=_RECEIPT_FIELDS,
    signature_required=True,
    final_states=frozenset({BdrStatus.CUSTOMS_APPROVED}),
    modifiable_states=EDITABLE,
    customs_number_fields=("declNo",),
    receipt_echo_fields=("guid", "preEntryNo"),
    store_checks=_revoke_hook,
    receipt_statuses=RECEIPT_STATUSES,
    after_change=_after_receipt,
    operations={Operation.COPY: OPERATIONS[Operation.COPY]},
)

KINDS = (ENTRY, IMPORT, REVOKE)
BY_NAME = {kind.name: kind for kind in KINDS}
