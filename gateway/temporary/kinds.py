"""The temporary-goods document kinds and their intake hooks (`store_checks`).

Each hook runs inside the intake transaction: the rules of `rules` on every record, then the
rules that need the store (the registration's state, its customs number, what uses it), the
declarer's right to the declaring unit (R-COM-3), and — when every record passes — the rows
of `models`, so they commit or roll back with the documents.

One kind per form of the manual's pages (§1.1–§2.3), and the attachments' own:
- `tmp_exhibition` (TMP101): the registration; save, declare, modify and delete a draft.
- `tmp_exhibition_change` (TMP103): 变更 of an approved registration, with its reason.
- `tmp_exhibition_deletion` (TMP105): 备案删除, an application customs answers.
- `tmp_loan_list` (TMP107): the loaned-exhibit list (外借展品清单) of an approved exhibition;
  save, declare, modify and delete a draft, like the registration (§1.4).
- `tmp_confirmation` (TMP109): the review confirmation (暂时进出境审核确认, §2.1); save,
  declare, modify and delete a draft; customs approves it with 确认申请书编号 and closes it
  (结案).
- `tmp_extension` (TMP111): the extension (延期申报, §2.3) of an approved confirmation; save,
  declare, modify and delete a draft; customs' approval gives the date it allows; one at a
  time with customs per confirmation.
- `tmp_confirmation_attachment` (TMP113): one attached PDF of a saved confirmation, sent to
  customs by the gateway when it is uploaded (`attachments.deliver`), keyed by the
  confirmation's key and the file's digest; customs answers 1 (it has it) or refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from gateway.codes import AppType
from gateway.core import delegations
from gateway.core.history import Change, Notifier
from gateway.core.kinds import DocumentKind, Operation, Record, key_text
from gateway.core.models import Document, Enterprise, utcnow
from gateway.core.status import Status, status_of
from gateway.errors import Violation
from gateway.temporary import attachments, confirmations, extensions, loans, rules
from gateway.temporary import fields as form
from gateway.temporary import registrations as regs
from gateway.temporary.codes import (
    CONFIRMATION_STATUSES,
    EDITABLE,
    RECEIPT_STATUSES,
    STATUS_NAMES,
    TmpReturn,
    TmpStatus,
)
from gateway.temporary.rules import STATE_RULE, Where

#: the manual's words for the states a record may be edited and declared again in
EDITABLE_WORDS = (
    "暂存, 发往海关失败, 海关入库失败 or 审核不通过 (saved, send failed, storage failed, "
    "not approved)"
)

Hook = Callable[[Session, Enterprise, Any, datetime], list[Violation]]


def _numbered(checked: Any) -> list[tuple[Where, Record]]:
    tag = checked.kind.record_tag
    return [(Where(tag, n, rec.element), rec) for n, rec in enumerate(checked.records, start=1)]


def _hook(
    table: tuple[form.Field, ...],
    body: Callable[..., list[Violation]],
    more: Callable[[Record, Where], list[Violation]] | None = None,
    rules_for: dict[str, str] | None = None,
) -> Hook:
    """A kind's intake hook: the record rules and the declarer's right for every record, then
    `body` for the records that pass them; `body` writes rows (its `write` flag) only once
    the whole message passed, since a message is taken or refused whole."""

    def hook(session: Session, ent: Enterprise, checked: Any, at: datetime) -> list[Violation]:
        found: list[Violation] = []
        clean: list[tuple[Where, Record]] = []
        for where, rec in _numbered(checked):
            own = _record_rules(rec, where, ent, table, more, rules_for)
            own += _party(session, ent, checked.kind, rec, where)
            found += own
            if not own:
                clean.append((where, rec))
        for where, rec in clean:
            found += body(session, ent, rec, where, at, write=False)
        if not found:
            for where, rec in clean:
                body(session, ent, rec, where, at, write=True)
        return found

    return hook


def _record_rules(
    rec: Record,
    where: Where,
    ent: Enterprise,
    table: tuple[form.Field, ...],
    more: Callable[[Record, Where], list[Violation]] | None,
    rules_for: dict[str, str] | None,
) -> list[Violation]:
    """R-COM-2 and R-TMP-1: what one record needs whatever the store holds."""
    found = rules.common(rec, where) + rules.required(rec, where, table, rules_for)
    if rules.is_delete(rec):  # a delete names its record, nothing else is read
        return found
    found += rules.form_values(rec, where) + rules.card_fields(rec, where, ent)
    return found + (more(rec, where) if more else [])


def _party(
    session: Session, ent: Enterprise, kind: DocumentKind, rec: Record, where: Where
) -> list[Violation]:
    """R-COM-3: the declaring unit is the declarer or one it declares for (a delegation).
    The core's check, run here (the kinds declare no `party_fields`) so that it comes after
    R-COM-2: a missing code is refused as missing, not as someone else's."""
    if not rec.fields.get("agentCode"):
        return []
    found = delegations.party_violations(session, ent, replace(kind, party_fields=_PARTY), [rec])
    return [where.v(v.rule, "agentCode", v.message, rec.fields.get("agentCode")) for v in found]


def _editable(doc: Document | None, rec: Record, where: Where, what: str) -> list[Violation]:
    """R-TMP-3: modify (appType 2) and delete (3) only in the editable states."""
    if rec.app_type == AppType.ADD or doc is None:
        return []  # the core refuses a modify of nothing, and a new key twice (R-COM-5)
    status = status_of(doc.status)
    if status in EDITABLE:
        return []
    shown = f"{status.value} ({STATUS_NAMES.get(status, status.value)})"
    message = (
        f"the {what} is {shown}: it can be edited, declared again or deleted only in "
        + EDITABLE_WORDS
    )
    return [where.v(STATE_RULE, "appType", message, rec.app_type)]


# --- TMP101: exhibition registration -----------------------------------------------------------


def _exhibition(
    session: Session, ent: Enterprise, rec: Record, where: Where, at: datetime, *, write: bool
) -> list[Violation]:
    doc = regs.live_document(session, regs.EXHIBITION, regs.key_of(dict(rec.fields)))
    problems = _editable(doc, rec, where, "registration")
    if write and not problems and not rules.is_delete(rec):
        regs.take(session, ent, rec, at)
    return problems


# --- TMP103 / TMP105: applications on an approved registration ---------------------------------


def _approved(
    session: Session, rec: Record, where: Where, operation: Operation, what: str
) -> tuple[Document | None, list[Violation]]:
    """The registration an application names, when it allows `operation` (R-TMP-3)."""
    key = regs.key_of(dict(rec.fields))
    doc = regs.live_document(session, regs.EXHIBITION, key)
    if doc is None:
        return None, [where.v(STATE_RULE, "copNo", "no exhibition registration with this "
                              "agentCode and copNo", key)]  # fmt: skip
    status = status_of(doc.status)
    if not EXHIBITION.allows(operation, status):
        shown = STATUS_NAMES.get(status, status.value)
        message = (
            f"{what} needs an approved (审核通过) registration; it is {status.value} ({shown})"
        )
        return doc, [where.v(STATE_RULE, "copNo", message, key)]
    number = (doc.customs_numbers or {}).get("exhibitionNo", "")
    given = rec.fields.get("exhibitionNo", "")
    if given and given != number:
        return doc, [where.v(STATE_RULE, "exhibitionNo", f"the registration's customs number is "
                             f"{number!r}", given)]  # fmt: skip
    return doc, []


def _open_applications(session: Session, rec: Record, where: Where, own: str) -> list[Violation]:
    """One application at a time: a change or deletion still at customs blocks another."""
    prefix = regs.key_of(dict(rec.fields))
    return [
        where.v(
            STATE_RULE,
            "copNo",
            f"{doc.kind} {doc.business_key} is still with customs "
            f"({doc.status}): wait for its answer",
            prefix,
        )  # fmt: skip
        for doc in regs.open_applications(session, prefix)
        if doc.business_key != own
    ]


def _change(
    session: Session, ent: Enterprise, rec: Record, where: Where, at: datetime, *, write: bool
) -> list[Violation]:
    own_key = key_text(CHANGE.record(rec.element).business_key)
    mine = regs.live_document(session, CHANGE.name, own_key)
    problems = _editable(mine, rec, where, "change application")
    if rules.is_delete(rec) or problems:
        return problems
    _doc, problems = _approved(session, rec, where, Operation.CHANGE, "a change (变更)")
    problems += _open_applications(session, rec, where, own_key)
    if write and not problems:
        row = regs.row_of(session, rec.fields["agentCode"], rec.fields["copNo"])
        assert row is not None  # an approved registration has its row
        regs.take_change(session, row, rec, at)
    return problems


def _deletion(
    session: Session, ent: Enterprise, rec: Record, where: Where, at: datetime, *, write: bool
) -> list[Violation]:
    own_key = regs.key_of(dict(rec.fields))
    mine = regs.live_document(session, DELETION.name, own_key)
    problems = _editable(mine, rec, where, "deletion application")
    if rules.is_delete(rec) or problems:
        return problems
    _doc, problems = _approved(session, rec, where, Operation.REVOKE, "a deletion (备案删除)")
    problems += _open_applications(session, rec, where, own_key)
    row = regs.row_of(session, rec.fields["agentCode"], rec.fields["copNo"])
    for use in regs.uses(session, row) if row is not None and not problems else []:
        problems.append(where.v(STATE_RULE, "copNo", f"the registration is in use: {use}",
                                rec.fields["copNo"]))  # fmt: skip
    return problems


def _apply_approved_change(
    session: Session, doc: Document, change: Change, receipt: dict[str, str],
    notifier: Notifier | None,
) -> None:  # fmt: skip
    """Customs approved a change: the registration's form becomes the change's."""
    if change.to is not TmpStatus.APPROVED:
        return
    agent, rest = doc.business_key.split("|", 1)  # agentCode is 10 characters, never "|"
    cop, seq = rest.rsplit("|", 1)
    regs.apply_change(session, agent, cop, int(seq), utcnow())


# --- TMP107: loaned-exhibit list -------------------------------------------------------------


def _loan_list(
    session: Session, ent: Enterprise, rec: Record, where: Where, at: datetime, *, write: bool
) -> list[Violation]:
    """R-TMP-4 with the store: an approved exhibition of the declarer, its declarations'
    lines, the quantities lent (the exhibition's document locked, see `loans`)."""
    doc = regs.live_document(session, loans.LOAN_LIST, loans.key_of(dict(rec.fields)))
    problems = _editable(doc, rec, where, "loaned-exhibit list")
    if problems or rules.is_delete(rec):
        return problems
    exhibition, problems = loans.exhibition_problems(session, ent, rec, where)
    if exhibition is None:
        return problems
    problems = loans.goods_problems(session, rec, where, exhibition, loans.key_of(dict(rec.fields)))
    if write and not problems:
        loans.take(session, ent, rec, exhibition, at, fresh=doc is None)
    return problems


# --- TMP109: review confirmation ------------------------------------------------------------


def _confirmation(
    session: Session, ent: Enterprise, rec: Record, where: Where, at: datetime, *, write: bool
) -> list[Violation]:
    """R-TMP-5 with the store: the exhibition it names, if any, approved and the declarer's."""
    key = confirmations.key_of(dict(rec.fields))
    doc = regs.live_document(session, confirmations.CONFIRMATION, key)
    problems = _editable(doc, rec, where, "review confirmation")
    if problems or rules.is_delete(rec):
        return problems
    exhibition, problems = confirmations.exhibition_problems(session, ent, rec, where)
    problems += confirmations.document_problems(session, rec, where, saved=doc is not None)
    if write and not problems:
        confirmations.take(session, ent, rec, exhibition, at, fresh=doc is None)
    return problems


# --- TMP111: extension ----------------------------------------------------------------------


def _extension(
    session: Session, ent: Enterprise, rec: Record, where: Where, at: datetime, *, write: bool
) -> list[Violation]:
    """R-TMP-6 with the store: the declarer's approved confirmation, a later date."""
    doc = regs.live_document(session, extensions.EXTENSION, extensions.key_of(dict(rec.fields)))
    problems = _editable(doc, rec, where, "extension")
    if problems or rules.is_delete(rec):
        return problems
    conf, problems = extensions.store_problems(session, ent, rec, where)
    if write and not problems:
        extensions.take(session, ent, rec, conf, at, fresh=doc is None)
    return problems


# --- TMP113: an attachment sent to customs --------------------------------------------------


def _attachment(
    session: Session, ent: Enterprise, rec: Record, where: Where, at: datetime, *, write: bool
) -> list[Violation]:
    """R-COM-6: a file uploaded to this saved confirmation of the declarer, its own bytes."""
    return attachments.delivery_problems(session, ent, rec, where)


# --- the kinds ---------------------------------------------------------------------------------

_KEY = ("agentCode", "copNo")
_PARTY = ("agentCode",)
_RETURN = "guid agentCode copNo exhibitionNo?"
#: the registration's states that allow each application (R-TMP-3)
APPROVED_ONLY: frozenset[StrEnum] = frozenset({TmpStatus.APPROVED})

EXHIBITION = DocumentKind(
    name=regs.EXHIBITION,
    title="exhibition registration (展览会备案)",
    message_type="TMP101Message",
    receipt_type="TMP102Message",
    record_tag="Exhibition",
    head_tag=None,
    key_fields=_KEY,
    receipt_entity="ExhibitionReturn",
    receipt_fields=_RETURN,
    signature_required=True,
    final_states=frozenset({TmpStatus.WITHDRAWN}),
    modifiable_states=EDITABLE,
    customs_number_fields=("exhibitionNo",),
    receipt_echo_fields=("guid", "agentCode", "copNo"),
    store_checks=_hook((*form.KEY, *form.FORM), _exhibition),
    receipt_statuses=RECEIPT_STATUSES,
    operations={Operation.CHANGE: APPROVED_ONLY, Operation.REVOKE: APPROVED_ONLY},
)

CHANGE = DocumentKind(
    name="tmp_exhibition_change",
    title="exhibition change application (展览会备案变更)",
    message_type="TMP103Message",
    receipt_type="TMP104Message",
    record_tag="ExhibitionChange",
    head_tag=None,
    key_fields=(*_KEY, "seqNo"),
    receipt_entity="ExhibitionChangeReturn",
    receipt_fields="guid agentCode copNo seqNo exhibitionNo?",
    signature_required=True,
    final_states=frozenset({TmpStatus.APPROVED}),
    modifiable_states=EDITABLE,
    customs_number_fields=("exhibitionNo",),
    receipt_echo_fields=("guid", "agentCode", "copNo", "seqNo"),
    store_checks=_hook(
        (*form.KEY, *form.CHANGE, *form.FORM),
        _change,
        rules.change_values,
        {"changeReason": STATE_RULE},  # "变更, with a reason" (R-TMP-3)
    ),
    receipt_statuses=RECEIPT_STATUSES,
    after_change=_apply_approved_change,
)

DELETION = DocumentKind(
    name="tmp_exhibition_deletion",
    title="exhibition deletion application (展览会备案删除)",
    message_type="TMP105Message",
    receipt_type="TMP106Message",
    record_tag="ExhibitionDeletion",
    head_tag=None,
    key_fields=_KEY,
    receipt_entity="ExhibitionDeletionReturn",
    receipt_fields=_RETURN,
    signature_required=True,
    final_states=frozenset({TmpStatus.APPROVED}),
    modifiable_states=EDITABLE,
    customs_number_fields=("exhibitionNo",),
    receipt_echo_fields=("guid", "agentCode", "copNo"),
    store_checks=_hook((*form.KEY, *form.DELETION), _deletion),
    receipt_statuses=RECEIPT_STATUSES,
)

LOAN_LIST = DocumentKind(
    name=loans.LOAN_LIST,
    title="loaned-exhibit list (外借展品清单)",
    message_type="TMP107Message",
    receipt_type="TMP108Message",
    record_tag="LoanList",
    head_tag=None,  # the head's fields are the record's leaves; LoanGoods are read by `loans`
    key_fields=_KEY,
    receipt_entity="LoanListReturn",
    receipt_fields="guid agentCode copNo loanNo?",
    signature_required=True,
    final_states=frozenset({TmpStatus.APPROVED}),
    modifiable_states=EDITABLE,
    customs_number_fields=("loanNo",),
    receipt_echo_fields=("guid", "agentCode", "copNo"),
    store_checks=_hook((*form.KEY, *form.LOAN), _loan_list, loans.record_rules),
    receipt_statuses=RECEIPT_STATUSES,
)

CONFIRMATION = DocumentKind(
    name=confirmations.CONFIRMATION,
    title="review confirmation (暂时进出境审核确认)",
    message_type="TMP109Message",
    receipt_type="TMP110Message",
    record_tag="Confirmation",
    head_tag=None,  # the head's fields are the record's leaves; goods are read by `confirmations`
    key_fields=_KEY,
    receipt_entity="ConfirmationReturn",
    receipt_fields="guid agentCode copNo confirmNo? closeDate?",
    signature_required=True,
    final_states=frozenset({TmpStatus.CASE_CLOSED}),
    modifiable_states=EDITABLE,
    customs_number_fields=("confirmNo",),
    receipt_echo_fields=("guid", "agentCode", "copNo"),
    store_checks=_hook((*form.KEY, *form.CONFIRMATION), _confirmation, confirmations.record_rules),
    receipt_statuses=CONFIRMATION_STATUSES,
    after_change=confirmations.after_receipt,
)

EXTENSION = DocumentKind(
    name=extensions.EXTENSION,
    title="extension (暂时进出境货物延期申报)",
    message_type="TMP111Message",
    receipt_type="TMP112Message",
    record_tag="Extension",
    head_tag=None,
    key_fields=_KEY,
    receipt_entity="ExtensionReturn",
    receipt_fields="guid agentCode copNo allowedDate?",
    signature_required=True,
    final_states=frozenset({TmpStatus.APPROVED}),
    modifiable_states=EDITABLE,
    receipt_echo_fields=("guid", "agentCode", "copNo"),
    store_checks=_hook((*form.KEY, *form.EXTENSION), _extension, extensions.record_rules),
    # stored, approved, not approved (or a negative code): no deletion, no 结案
    receipt_statuses={c: st for c, st in RECEIPT_STATUSES.items() if st is not TmpStatus.WITHDRAWN},
    after_change=extensions.after_receipt,
)

ATTACHMENT = DocumentKind(
    name=attachments.ATTACHMENT,
    title="attached document sent to customs (随附单证)",
    message_type="TMP113Message",
    receipt_type="TMP114Message",
    record_tag="ConfirmationAttachment",
    head_tag=None,
    key_fields=(*_KEY, "sha256"),
    receipt_entity="ConfirmationAttachmentReturn",
    receipt_fields="guid agentCode copNo sha256",
    signature_required=True,
    final_states=frozenset({Status.STORED}),
    modifiable_states=EDITABLE,  # sent again (appType 2) once refused or failed
    receipt_echo_fields=("guid", "agentCode", "copNo", "sha256"),
    store_checks=_hook((*form.KEY, *form.ATTACHMENT), _attachment),
    receipt_statuses={TmpReturn.STORED: Status.STORED},  # customs has it; negative: refused
)

# R-TMP-3: a registration a list names (and the enterprise did not delete) is in use
if loans.use_of not in regs.USAGE_CHECKS:
    regs.USAGE_CHECKS.append(loans.use_of)

# R-TMP-3: so is one a confirmation names
if confirmations.use_of not in regs.USAGE_CHECKS:
    regs.USAGE_CHECKS.append(confirmations.use_of)

KINDS = (EXHIBITION, CHANGE, DELETION, LOAN_LIST, CONFIRMATION, EXTENSION, ATTACHMENT)
