"""Write the example messages of `examples/` from the systems' own sample builders.

    .venv/bin/python examples/make.py            # rewrites examples/<system>/*.xml

Every valid example passes `customs-gateway validate` (XSD and business rules, R-COM-1,
R-COM-2, R-ECX-1…, R-APT-1, R-TMP-1…); the files under `broken/` each fail naming the field
and the rule (`tests/test_examples.py` holds both to that). The messages are sent by the
enterprises of the shipped `config.yaml` (3301960Z01, the e-commerce enterprise, unless a
message type is another party's), so `submit` takes them as they are. The builders stamp
fresh guids and times: running this again changes those, nothing else of substance.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gateway.appointments import samples as apt  # noqa: E402
from gateway.codes import CHINA_TZ  # noqa: E402
from gateway.core.parties import Party  # noqa: E402
from gateway.ecx import samples as ecx  # noqa: E402
from gateway.ecx import samples_lists as lists  # noqa: E402
from gateway.temporary import samples as tmp  # noqa: E402

#: the shipped config.yaml's enterprises, as senders
EBC = Party("3301960Z01", "杭州云锦跨境电子商务有限公司", "DXPENT0000458763")
CARRIER = Party("3301980W02", "宁波海捷国际物流有限公司", "DXPENT0000512209")
#: a fixed time: the examples do not change with the day they were made
AT = datetime(2026, 1, 15, 10, 30, tzinfo=CHINA_TZ)
#: an appointment for a Saturday morning at the sample port 2233 (outside working hours)
APPOINTMENT_START = datetime(2026, 12, 5, 9, 0, tzinfo=CHINA_TZ)
EXHIBITION_NO = "ZL2900202600000001"

ORDERS = ecx.order_numbers(2, start=101)
WAYBILLS = ecx.logistics_numbers(2, start=101)
PARCELS = [lists.Parcel(o, n) for o, n in zip(ORDERS, WAYBILLS, strict=True)]
DECLARED = [
    lists.Parcel(o, n, invt_no=i)
    for o, n, i in zip(ORDERS, WAYBILLS, lists.inventory_numbers(2, start=101), strict=True)
]


def ecx_examples() -> dict[str, bytes]:
    """The cross-border e-commerce export set (CEB…), one message of each type."""
    shipments = [ecx.Shipment(n, ecx.DEMO_EBC, o) for o, n in zip(ORDERS, WAYBILLS, strict=True)]
    return {
        "CEB303-order.xml": ecx.order_message(EBC, ecx.DEMO_EBP, ORDERS, at=AT),
        "CEB403-payment.xml": ecx.payment_message(
            ecx.DEMO_EBC, ecx.DEMO_EBP, ecx.DEMO_PAYER, ORDERS, at=AT
        ),
        "CEB505-waybill.xml": ecx.waybill_message(ecx.DEMO_LOGISTICS, shipments, at=AT),
        "CEB603-inventory.xml": lists.inventory_message(ecx.DEMO_EBC, PARCELS, at=AT),
        "CEB605-inventory-cancel.xml": lists.invt_cancel_message(lists.DEMO_AGENT, DECLARED, at=AT),
        "CEB507-arrival.xml": lists.arrival_message(
            lists.DEMO_OPERATOR, WAYBILLS, lists.Batch("AR1"), at=AT
        ),
        "CEB509-departure.xml": lists.departure_message(
            ecx.DEMO_LOGISTICS, WAYBILLS, lists.Batch("DP1"), at=AT
        ),
        "CEB607-waybill-list.xml": lists.waybill_list_message(
            lists.DEMO_AGENT, DECLARED, lists.Batch("WB1"), at=AT
        ),
        "CEB213-return.xml": lists.refund_message(lists.DEMO_AGENT, DECLARED, at=AT),
        "CEB215-return-tally.xml": lists.refund_detail_message(
            lists.DEMO_OPERATOR, DECLARED, at=AT
        ),
        "CEB701-summary.xml": lists.summary_message(
            lists.DEMO_AGENT, [p.invt_no or "" for p in DECLARED], lists.Batch("SA1"), at=AT
        ),
    }


def appointment_examples() -> dict[str, bytes]:
    """Appointment clearance (预约通关): request, cancel, feedback, explanation."""
    request = apt.Request("APT-EX-0001", APPOINTMENT_START)
    return {
        "APT101-request.xml": apt.request_message(EBC, [request]),
        "APT103-cancel.xml": apt.cancel_message(EBC, "APT-EX-0001"),
        "APT105-feedback.xml": apt.feedback_message(EBC, "APT-EX-0001", ["223320261000000101"]),
        "APT107-explanation.xml": apt.explanation_message(EBC, "APT-EX-0001"),
    }


def temporary_examples() -> dict[str, bytes]:
    """Temporary import/export goods (暂时进出境货物): the six declarations."""
    return {
        "TMP101-registration.xml": tmp.registration_message(EBC, [tmp.Registration("EXPO-0001")]),
        "TMP103-change.xml": tmp.change_message(
            EBC, [tmp.Change("EXPO-0001", exhibition_no=EXHIBITION_NO)]
        ),
        "TMP105-deletion.xml": tmp.deletion_message(
            EBC, [tmp.Deletion("EXPO-0001", EXHIBITION_NO)]
        ),
        "TMP107-loan-list.xml": tmp.loan_list_message(
            EBC, tmp.LoanList("LOAN-0001", EXHIBITION_NO)
        ),
        "TMP109-confirmation.xml": tmp.confirmation_message(
            EBC, [tmp.Confirmation("CONF-0001", EXHIBITION_NO, app_status="1")]
        ),
        "TMP111-extension.xml": tmp.extension_message(
            EBC, [tmp.Extension("EXT-0001", "G29002026000000001", "20270615")]
        ),
        "TMP113-attachment.xml": _attachment(),
    }


def border_examples() -> dict[str, bytes]:
    """Border residents' trade (边民互市): entry, import and revoke, sent by the sample
    supervised place's operator (the simulated customs' reference data knows it)."""
    from gateway.border import samples as bdr

    def pretty(data: bytes) -> bytes:
        return _edit(data, lambda _root: None)

    return {
        "BDR101-entry.xml": pretty(bdr.entry_message(AT)),
        "BDR103-import.xml": pretty(bdr.import_message(AT)),
        "BDR105-revoke.xml": pretty(bdr.revoke_message(AT)),
    }


def _attachment() -> bytes:
    """TMP113: a PDF of a saved confirmation, as `tmp-attach` sends it (the intake takes one
    only for a file uploaded to that confirmation: validate passes it, submit refuses it)."""
    import hashlib
    from types import SimpleNamespace as Row

    from gateway.temporary import attachments

    content = apt.pdf()
    pdf = Row(
        sha256=hashlib.sha256(content).hexdigest(),
        file_name="invoice.pdf",
        size=len(content),
        content=content,
    )
    conf = Row(agent_code=EBC.code, cop_no="CONF-0001")
    return _edit(attachments.message(EBC, conf, pdf, AT), lambda _root: None)  # type: ignore[arg-type]


# --- broken ones: one mistake each, named by the rule that refuses it ------------------------


def _edit(data: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _first(root: etree._Element, local: str) -> etree._Element:
    found = root.find(f".//{{*}}{local}")
    assert found is not None, local
    return found


def _set(local: str, value: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        _first(root, local).text = value

    return change


def _drop(local: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        el = _first(root, local)
        el.getparent().remove(el)

    return change


def broken_examples(valid: dict[str, dict[str, bytes]]) -> dict[str, bytes]:
    """Each file's name says the rule it breaks; its first comment line the field."""
    order = valid["ecx"]["CEB303-order.xml"]
    return {
        # R-ECX-1.sum: goodsValue is not the sum of the lines' totalPrice
        "R-ECX-1.sum-order-goodsValue.xml": _edit(order, _set("goodsValue", "1.00")),
        # R-COM-1: the XSD's own error, a mandatory element missing
        "R-COM-1-order-missing-orderNo.xml": _edit(order, _drop("orderNo")),
        # R-COM-1.code: appType outside its code list
        "R-COM-1.code-order-appType.xml": _edit(order, _set("appType", "7")),
        # R-COM-1.time: appTime is not a real date
        "R-COM-1.time-order-appTime.xml": _edit(order, _set("appTime", "20261345250000")),
        # R-COM-1: an appointment request without its start time
        "R-COM-1-appointment-missing-aptStartTime.xml": _edit(
            valid["appointments"]["APT101-request.xml"], _drop("aptStartTime")
        ),
        # R-COM-1.code: an exhibition registration whose appType is outside its code list
        "R-COM-1.code-registration-appType.xml": _edit(
            valid["temporary"]["TMP101-registration.xml"], _set("appType", "7")
        ),
        # R-COM-1: hardened parsing refuses any DTD outright
        "R-COM-1-dtd-refused.xml": order.replace(
            b"?>\n", b'?>\n<!DOCTYPE x [<!ENTITY e "boom">]>\n', 1
        ),
    }


def main() -> None:
    valid = {
        "ecx": ecx_examples(),
        "appointments": appointment_examples(),
        "temporary": temporary_examples(),
        "border": border_examples(),
    }
    for system, files in {**valid, "broken": broken_examples(valid)}.items():
        folder = HERE / system
        folder.mkdir(exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            print(folder.relative_to(HERE.parent) / name)


if __name__ == "__main__":
    main()
