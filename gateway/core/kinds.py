"""A document kind: everything the pipeline needs to know about one business message type.

Adding a kind means adding one `DocumentKind` value to its business system (and its XSD),
not touching the pipeline. The business key is declared once (`key_fields`): the receipt
that answers a record is correlated by the same fields (ceb-messages.md), so the receipt's
kind (`receipt_kind`) is derived from the document kind, never declared again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lxml import etree

from gateway.core.status import MODIFIABLE, Status
from receipts.parse import RETURN_FIELDS, ReceiptKind


@dataclass(frozen=True)
class Record:
    """One business record of a message, as the pipeline needs it."""

    element: etree._Element
    fields: Mapping[str, str]
    business_key: tuple[str, ...]
    app_type: str
    app_status: str
    guid: str


class Operation(StrEnum):
    """What an enterprise may do to a record, by the manuals' buttons: 修改, 删除, 变更, 撤销,
    取消, 复制, 情况说明. Which states allow which is declared per kind (`operations`)."""

    MODIFY = "modify"  # 修改: declare it again, appType 2 (R-COM-5)
    DELETE = "delete"  # 删除: appType 3 on a record customs does not hold (R-COM-5)
    CHANGE = "change"  # 变更: a change request on an approved record
    REVOKE = "revoke"  # 撤销: ask customs to withdraw it
    CANCEL = "cancel"  # 取消: cancel a booking (R-APT-7)
    COPY = "copy"  # 复制: a new draft from it
    EXPLAIN = "explain"  # 情况说明 (R-APT-8)


@dataclass(frozen=True)
class DocumentKind:
    name: str
    message_type: str
    receipt_type: str
    record_tag: str
    #: the child holding the head fields ("OrderHead"), or None when they are direct children
    head_tag: str | None
    key_fields: tuple[str, ...]
    #: receipt entity local name
    receipt_entity: str
    #: the receipt entity's fields before returnStatus/returnTime/returnInfo, in schema
    #: order, "?" marking an optional one: "guid ebpCode ebcCode orderNo"
    receipt_fields: str
    signature_required: bool = False
    #: customs statuses after which no receipt may move the record (never backwards)
    final_states: frozenset[StrEnum] = frozenset({Status.STORED})
    modifiable_states: frozenset[StrEnum] = MODIFIABLE
    #: receipt fields that carry numbers customs assigns (kept on the document)
    customs_number_fields: tuple[str, ...] = ()
    #: the numbers a receipt of this kind assigns, when not all of `customs_number_fields`
    receipt_assigned: tuple[str, ...] | None = None
    title: str = ""
    #: fields the receipt echoes back; the simulated customs copies them from the record
    receipt_echo_fields: tuple[str, ...] = field(default=())
    #: rules that need the store or the clock (reference data, deadlines, other records):
    #: called inside the intake transaction as `store_checks(session, enterprise, checked,
    #: at)` and returning violations; None for kinds the XSD and the check engine cover
    store_checks: Callable[..., list[Any]] | None = None
    #: returnStatus → status for kinds whose receipts use their own codes (appointments);
    #: None for the CEB codes of `gateway.core.status.status_for_return`
    receipt_statuses: Mapping[str, StrEnum] | None = None
    #: what a receipt applied to a record of this kind does to other records (an approved
    #: revoke application withdraws its inventory list, R-ECX-5): called in the receipt's
    #: transaction as `after_change(session, doc, change, receipt_fields, notifier)`
    after_change: Callable[..., None] | None = None
    #: the fields naming parties a record may be declared by (R-COM-3): the declarer must be
    #: one of them — its own code or a code it is registered to declare for (a delegation);
    #: one that is also in `key_fields` must be, since the key lives in that party's namespace
    party_fields: tuple[str, ...] = ()
    #: the standard's key names no enterprise (copNo + msgSeqNo): unique per owner, and a
    #: receipt finds the record of the enterprise it is addressed to (envelope ReceiverId)
    key_per_owner: bool = False
    #: the states each operation is allowed in; modify and delete not named here are allowed
    #: in `modifiable_states`, any other operation not named in no state. A kind names modify
    #: where its manual lets a record customs holds be modified (a new version) but not
    #: deleted (an inventory list's 清单改单, manual 004 §3.3)
    operations: Mapping[Operation, frozenset[StrEnum]] = field(default_factory=dict)

    def allowed_in(self, operation: Operation) -> frozenset[StrEnum]:
        """The states `operation` is allowed in for a record of this kind."""
        if operation in self.operations:
            return self.operations[operation]
        if operation in (Operation.MODIFY, Operation.DELETE):
            return self.modifiable_states
        return frozenset()

    def allows(self, operation: Operation, status: StrEnum) -> bool:
        return status in self.allowed_in(operation)

    def operations_in(self, status: StrEnum) -> list[Operation]:
        """What an enterprise may do to a record of this kind in `status` (for its view)."""
        return [op for op in Operation if self.allows(op, status)]

    @property
    def receipt_key_fields(self) -> tuple[str, ...]:
        """The receipt finds its record by the record's own business key."""
        return self.key_fields

    def receipt_kind(self) -> ReceiptKind:
        names = [*self.receipt_fields.split(), *RETURN_FIELDS]
        assigned = self.customs_number_fields
        return ReceiptKind(
            message_type=self.receipt_type,
            entity=self.receipt_entity,
            fields=tuple(n.rstrip("?") for n in names),
            optional=frozenset(n.rstrip("?") for n in names if n.endswith("?")),
            correlation=self.key_fields,
            assigned=assigned if self.receipt_assigned is None else self.receipt_assigned,
        )

    def records(self, root: etree._Element) -> Iterator[Record]:
        for element in root:
            if _local(element) == self.record_tag:
                yield self.record(element)

    def record(self, element: etree._Element) -> Record:
        fields = head_fields(element, self.head_tag)
        return Record(
            element=element,
            fields=fields,
            business_key=tuple(fields.get(f, "") for f in self.key_fields),
            app_type=fields.get("appType", ""),
            app_status=fields.get("appStatus", ""),
            guid=fields.get("guid", ""),
        )

    def is_final(self, status: StrEnum) -> bool:
        return status in self.final_states or status is Status.DELETED


def head_fields(record: etree._Element, head_tag: str | None) -> dict[str, str]:
    """Leaf children of the record's head, by local name (namespace-agnostic)."""
    head = record
    if head_tag is not None:
        head = next((c for c in record if _local(c) == head_tag), record)
    fields = {}
    for child in head:
        tag = child.tag  # read once: lxml builds a new string at every read
        if isinstance(tag, str) and not len(child):
            fields[tag[tag.find("}") + 1 :]] = (child.text or "").strip()
    return fields


def _local(element: etree._Element) -> str:
    """`etree.QName(element).localname` ("" for a comment), without the QName object."""
    tag = element.tag
    return tag[tag.find("}") + 1 :] if isinstance(tag, str) else ""


def key_text(key: tuple[str, ...]) -> str:
    """The stored form of a business key; '|' never occurs in CEB code or number fields."""
    return "|".join(key)
