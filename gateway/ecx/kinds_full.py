"""The rest of the cross-border e-commerce export set (R-ECX-2..8): arrival, departure,
inventory list, inventory revoke, total/sub waybill list, return application, return tally
and summary application.

Business keys and receipt correlation follow ceb-messages.md ("Correlate by business
keys"): arrival/departure/waybill-total → (copNo, msgSeqNo) then preNo; inventory/cancel →
(agentCode, copNo) then preNo/invtNo once assigned; summary → (copNo, msgSeqNo) then sumNo.
The standard names no key for returns and tallies: like `receipts.parse`, the declarer's
code plus its own document number (coElNo). The numbers customs assigns come back on the
receipts (`customs_number_fields`) and are kept on the document.

`receipt_echo_fields` are every field of the receipt entity but the return fields, so the
simulated customs can build a complete receipt from the record.

The CEB792 summary result is not a kind: customs sends it, the enterprise never declares it.
Inventory lists and summary applications keep `summary_lists` current through their hooks
(gateway/ecx/summary/lists.py, R-ECX-8).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.core.kinds import DocumentKind, Operation
from gateway.core.models import Enterprise
from gateway.core.status import MODIFIABLE, Status
from gateway.ecx import modify, save_first
from gateway.ecx.revoke import withdraw_list
from gateway.ecx.status import EcxStatus
from gateway.ecx.summary import lists

#: operator documents and the summary application end when customs stores them (120)
_STORED = frozenset({Status.STORED})


ARRIVAL = DocumentKind(
    name="arrival",
    title="arrival (运抵单)",
    message_type="CEB507Message",
    receipt_type="CEB508Message",
    record_tag="Arrival",
    head_tag="ArrivalHead",
    key_fields=("copNo", "msgSeqNo"),
    receipt_entity="ArrivalReturn",
    receipt_fields="guid operatorCode logisticsCode preNo copNo billNo msgSeqNo",
    # "required when appStatus=2": only declared messages are signed and sent.
    signature_required=True,
    final_states=_STORED,
    customs_number_fields=("preNo",),
    receipt_echo_fields=(
        "guid", "operatorCode", "logisticsCode", "preNo", "copNo", "billNo", "msgSeqNo",
    ),
    # The supervised-place operator reports the arrival (or the carrier for it).
    party_fields=("operatorCode", "logisticsCode"),
    key_per_owner=True,
)  # fmt: skip

DEPARTURE = DocumentKind(
    name="departure",
    title="departure (离境单)",
    message_type="CEB509Message",
    receipt_type="CEB510Message",
    record_tag="Departure",
    head_tag="DepartureHead",
    key_fields=("copNo", "msgSeqNo"),
    receipt_entity="DepartureReturn",
    receipt_fields="guid logisticsCode copNo preNo msgSeqNo",
    signature_required=True,
    final_states=_STORED,
    customs_number_fields=("preNo",),
    receipt_echo_fields=("guid", "logisticsCode", "copNo", "preNo", "msgSeqNo"),
    party_fields=("logisticsCode",),
    key_per_owner=True,
)


def _inventory_intake(session: Session, ent: Enterprise, checked: Any, at: datetime) -> list[Any]:
    """A new list is declared only once saved (R-ECX-2) and a modification keeps customs'
    numbers (both refused before anything is written), then the summary-mode lists are kept
    (R-ECX-8)."""
    problems = save_first.saved_first(session, ent, checked, at)
    problems += modify.fixed_numbers(session, ent, checked, at)
    return problems or lists.on_inventory_intake(session, ent, checked, at)


INVENTORY = DocumentKind(
    name="inventory",
    title="inventory list (清单)",
    message_type="CEB603Message",
    receipt_type="CEB604Message",
    record_tag="Inventory",
    head_tag="InventoryHead",
    key_fields=("agentCode", "copNo"),
    receipt_entity="InventoryReturn",
    receipt_fields="guid agentCode copNo preNo invtNo ebcCode ebpCode orderNo statisticsFlag",
    signature_required=True,
    # R-ECX-5: stored (120) → review (300) / inspection (500) → concluded (399) → released
    # (800) → closed (899, after departure) → finalised (结案, merged into a summary
    # declaration; no receipt code of its own). An approved revoke application withdraws the
    # list (REVOKED, gateway/revoke.py): final for receipts, but the enterprise may fix it
    # and send it again as appType 2 ("让企业重新发送", manual §3.7), so it is modifiable too.
    final_states=frozenset({EcxStatus.FINALISED, EcxStatus.REVOKED}),
    # delete: R-COM-5's states and revoked (customs holds none of them)
    modifiable_states=MODIFIABLE | {EcxStatus.REVOKED},
    # 清单改单 (§3.3): also a list customs holds, until it releases it (gateway/ecx/modify.py)
    operations={Operation.MODIFY: modify.INVENTORY_MODIFIABLE},
    # a modification keeps customs' numbers; R-ECX-8: summary-mode lists, their invtNo and
    # closing time, for the summary job
    store_checks=_inventory_intake,
    after_change=lists.on_inventory_receipt,
    customs_number_fields=("preNo", "invtNo"),
    receipt_echo_fields=(
        "guid", "agentCode", "copNo", "preNo", "invtNo", "ebcCode", "ebpCode", "orderNo",
        "statisticsFlag",
    ),
    # Declared by the declaring agent (agentCode, in the key).
    party_fields=("agentCode",),
)  # fmt: skip

INVT_CANCEL = DocumentKind(
    name="invt_cancel",
    title="inventory revoke application (撤销申请单)",
    message_type="CEB605Message",
    receipt_type="CEB606Message",
    record_tag="InvtCancel",
    head_tag=None,
    key_fields=("agentCode", "copNo"),
    receipt_entity="InvtCancelReturn",
    receipt_fields="guid agentCode copNo preNo invtNo",
    signature_required=True,
    # Customs stores the application (120), then approves it (399 审结): the list is revoked.
    final_states=frozenset({Status.CONCLUDED}),
    after_change=withdraw_list,
    customs_number_fields=("preNo", "invtNo"),
    receipt_echo_fields=("guid", "agentCode", "copNo", "preNo", "invtNo"),
    party_fields=("agentCode",),
)

WAYBILL_TOTAL = DocumentKind(
    name="waybill_total",
    title="total/sub waybill list (清单总分单)",
    message_type="CEB607Message",
    receipt_type="CEB608Message",
    record_tag="WayBill",
    head_tag="WayBillHead",
    key_fields=("copNo", "msgSeqNo"),
    receipt_entity="WayBillReturn",
    receipt_fields="guid agentCode logisticsCode copNo preNo billNo msgSeqNo",
    signature_required=True,
    # stored (120) ends it for receipts, but 清单总分单改单 (§3.11) may modify it then: the new
    # version goes to customs, whose receipts move it again (gateway/ecx/modify.py)
    final_states=_STORED,
    operations={Operation.MODIFY: modify.WAYBILL_TOTAL_MODIFIABLE},
    store_checks=modify.fixed_numbers,
    customs_number_fields=("preNo",),
    receipt_echo_fields=(
        "guid", "agentCode", "logisticsCode", "copNo", "preNo", "billNo", "msgSeqNo",
    ),
    party_fields=("agentCode", "logisticsCode"),
    key_per_owner=True,
)  # fmt: skip

REFUND = DocumentKind(
    name="refund",
    title="export return application (退货申请单)",
    message_type="CEB213Message",
    receipt_type="CEB214Message",
    record_tag="InvtRefund",
    head_tag="InvtRefundHead",
    key_fields=("agentCode", "coElNo"),
    receipt_entity="RefundReturn",
    receipt_fields="guid ebpCode? ebcCode? agentCode coElNo preNo? invtNo",
    signature_required=False,  # optional in the catalogue
    # A return can go on after storage (review, inspection, 505 handed over, 600 suspended):
    # it ends when the returned goods are released.
    final_states=frozenset({Status.RELEASED}),
    customs_number_fields=("preNo",),
    receipt_echo_fields=("guid", "ebpCode", "ebcCode", "agentCode", "coElNo", "preNo", "invtNo"),
    party_fields=("agentCode",),
)

REFUND_TALLY = DocumentKind(
    name="refund_tally",
    title="return tally list (理货明细单)",
    message_type="CEB215Message",
    receipt_type="CEB216Message",
    record_tag="InvtRefundDetail",
    head_tag=None,
    key_fields=("operatorCode", "coElNo"),
    receipt_entity="InvtRefundDetailReturn",
    receipt_fields="guid operatorCode logisticsCode logisticsNo coElNo preNo?",
    signature_required=False,  # optional in the catalogue
    final_states=_STORED,
    customs_number_fields=("preNo",),
    receipt_echo_fields=(
        "guid", "operatorCode", "logisticsCode", "logisticsNo", "coElNo", "preNo",
    ),
    party_fields=("operatorCode",),
)  # fmt: skip

SUMMARY = DocumentKind(
    name="summary",
    title="summary application (汇总申请单)",
    message_type="CEB701Message",
    receipt_type="CEB702Message",
    record_tag="SummaryApply",
    head_tag="SummaryApplyHead",
    key_fields=("copNo", "msgSeqNo"),
    receipt_entity="SummaryReturn",
    receipt_fields="guid agentCode ebcCode copNo preNo sumNo? msgSeqNo",
    receipt_assigned=("sumNo",),
    signature_required=True,
    # CEB702 stored (120) with the sumNo ends the application; the merged declaration
    # numbers come apart, on CEB792.
    final_states=_STORED,
    # R-ECX-8: an application links the lists it names (refused if one is taken); a return
    # or failure frees them again
    store_checks=lists.on_summary_intake,
    after_change=lists.on_summary_receipt,
    customs_number_fields=("preNo", "sumNo"),
    receipt_echo_fields=("guid", "agentCode", "ebcCode", "copNo", "preNo", "sumNo", "msgSeqNo"),
    party_fields=("agentCode", "ebcCode", "declAgentCode"),
    key_per_owner=True,
)

KINDS = (
    ARRIVAL,
    DEPARTURE,
    INVENTORY,
    INVT_CANCEL,
    WAYBILL_TOTAL,
    REFUND,
    REFUND_TALLY,
    SUMMARY,
)
