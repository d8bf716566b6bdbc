"""Cross-border e-commerce export kinds of the gateway core: order, payment receipt, waybill.

Correlation keys follow ceb-messages.md ("Correlate by business keys"), R-ECX-1.
"""

from __future__ import annotations

from gateway.core.kinds import DocumentKind

ORDER = DocumentKind(
    name="order",
    title="electronic order (电子订单)",
    message_type="CEB303Message",
    receipt_type="CEB304Message",
    record_tag="Order",
    head_tag="OrderHead",
    key_fields=("ebcCode", "orderNo"),
    receipt_entity="OrderReturn",
    receipt_fields="guid ebpCode ebcCode orderNo",
    receipt_echo_fields=("guid", "ebpCode", "ebcCode", "orderNo"),
    party_fields=("ebpCode", "ebcCode"),
)

PAYMENT = DocumentKind(
    name="payment",
    title="payment receipt (收款单)",
    message_type="CEB403Message",
    receipt_type="CEB404Message",
    record_tag="Receipts",
    head_tag=None,
    key_fields=("ebcCode", "orderNo", "payNo"),
    receipt_entity="ReceiptsReturn",
    receipt_fields="guid ebcCode orderNo payNo?",
    receipt_echo_fields=("guid", "ebcCode", "orderNo", "payNo"),
    party_fields=("ebpCode", "ebcCode"),
)

WAYBILL = DocumentKind(
    name="waybill",
    title="waybill (运单)",
    message_type="CEB505Message",
    receipt_type="CEB506Message",
    record_tag="Logistics",
    head_tag=None,
    key_fields=("logisticsCode", "logisticsNo"),
    receipt_entity="LogisticsReturn",
    receipt_fields="guid logisticsCode logisticsNo",
    receipt_echo_fields=("guid", "logisticsCode", "logisticsNo"),
    party_fields=("logisticsCode",),
)

KINDS = (ORDER, PAYMENT, WAYBILL)
