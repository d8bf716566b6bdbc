"""Business checks of the rest of the export set: arrival (CEB507), departure (CEB509),
inventory list (CEB603), inventory revoke (CEB605), total/sub waybill list (CEB607), return
application (CEB213), return tally (CEB215) and summary application (CEB701).

The same table-driven checks as `gateway.checks` (which imports this module and so always
has these tables): `FIELDS` (mandatory unless `?`, R-COM-2), code lists by field name or by
(element, field) (R-COM-1.code), record checks for what spans fields. Added here:

- gcode is a 10-digit HS code (the merge key of summary declarations needs all 10, R-ECX-8);
- 1 ≤ msgSeqNo ≤ msgCount for messages of a batch split over several messages;
- inventory lines: qty × price = totalPrice to the cent, gnum 1, 2, 3…, net ≤ gross weight;
- a parcel appears once per arrival, departure or total/sub waybill message (across its
  records too: customs counts the parcels of a message, R-ECX-3), an inventory list once
  per total/sub waybill message;
- a summary application names a period (start and end) or at least one inventory list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from gateway import checks as base
from gateway.checks import (
    _NOT_NEGATIVE,
    _POSITIVE,
    AMOUNT,
    CODE,
    COUNT,
    TIME,
    MessageSpec,
    Record,
    ValueCheck,
    _at_least,
    _check_gnum,
    _check_line_totals,
    _check_time,
    _code_list,
    _decimal,
    _label,
    _line_of,
    _path,
    _text,
)
from gateway.codes import CEB_NS
from gateway.errors import Violation

# --- rule ids ----------------------------------------------------------------------------------

HS_CODE = "R-ECX-2.gcode"
SEQUENCE = "R-ECX-3.seq"
PARCEL_ONCE = "R-ECX-3.duplicate"
WEIGHT = "R-ECX-2.weight"
PERIOD = "R-ECX-8.period"

RULES: dict[str, str] = {
    HS_CODE: "gcode (商品编码) is a 10-digit HS code.",
    SEQUENCE: "A batch split over several messages numbers them: 1 ≤ msgSeqNo ≤ msgCount.",
    PARCEL_ONCE: "A parcel (logisticsNo) or inventory list (invtNo) appears once per message.",
    WEIGHT: "An inventory list's netWeight is at most its grossWeight.",
    PERIOD: "A summary application gives startTime and endTime together (start before end),"
    " or lists at least one inventory list.",
}

# --- tables ------------------------------------------------------------------------------------

# Field order per ceb-messages.md; "?" marks an optional (O) field.
_DECL = "guid appType appTime appStatus"
FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(spec.split())
    for name, spec in {
        "ArrivalHead": f"{_DECL} customsCode copNo preNo? operatorCode operatorName loctNo?"
        " ieFlag trafMode billNo? domesticTrafNo logisticsCode logisticsName msgCount msgSeqNo"
        " note?",
        "ArrivalList": "gnum logisticsNo totalPackageNo? note?",
        "DepartureHead": f"{_DECL} customsCode copNo preNo? logisticsCode logisticsName"
        " trafMode trafName? voyageNo? billNo? leaveTime msgCount msgSeqNo note?",
        "DepartureList": "gnum totalPackageNo? logisticsNo note?",
        "InventoryHead": f"{_DECL} customsCode ebpCode ebpName orderNo logisticsCode"
        " logisticsName logisticsNo copNo preNo? invtNo? ieFlag portCode ieDate statisticsFlag"
        " agentCode agentName ebcCode ebcName ownerCode ownerName iacCode? iacName? emsNo?"
        " tradeMode trafMode trafName? voyageNo? billNo? totalPackageNo? loctNo? licenseNo?"
        " country POD freight fCurrency fFlag insuredFee iCurrency iFlag wrapType packNo"
        " grossWeight netWeight note?",
        "InventoryList": "gnum itemNo itemRecordNo? itemName? gcode gname gmodel barCode country"
        " currency qty qty1 qty2? unit unit1 unit2? price totalPrice note?",
        "InvtCancel": f"{_DECL} customsCode copNo preNo? invtNo reason agentCode agentName"
        " ebcCode ebcName note?",
        "WayBillHead": f"{_DECL} customsCode copNo preNo? agentCode agentName loctNo? trafMode"
        " trafName voyageNo billNo domesticTrafNo? grossWeight logisticsCode logisticsName"
        " msgCount msgSeqNo note?",
        "WayBillList": "gnum totalPackageNo? logisticsNo invtNo? note?",
        "InvtRefundHead": f"{_DECL} customsCode loctNo? ebpCode ebpName ebcCode ebcName"
        " logisticsNo logisticsCode logisticsName coElNo preNo? invtNo tradeMode? agentCode"
        " agentName billNo ieFlag trafMode trafName portCode reason country voyageNo note?",
        "InvtRefundList": "gnum gcode gname gmodel qty qty1 unit unit1 qty2? unit2? note?",
        "InvtRefundDetail": f"{_DECL} customsCode operatorCode operatorName logisticsCode"
        " logisticsName logisticsNo invtNo? coElNo preNo? billNo ieFlag trafMode trafName"
        " voyageNo location? note?",
        "SummaryApplyHead": f"{_DECL} customsCode copNo preNo? sumNo? agentCode agentName"
        " ebcCode ebcName declAgentCode declAgentName startTime? endTime? loctNo? summaryFlag"
        " itemNameFlag msgCount msgSeqNo note?",
        "SummaryApplyList": "invtNo",
    }.items()
}

TERMS: dict[str, str] = {
    "customsCode": "申报海关代码", "copNo": "企业唯一编号", "preNo": "预录入编号",
    "invtNo": "清单编号", "operatorCode": "监管场所经营人代码", "ieFlag": "进出口标记",
    "trafMode": "运输方式", "billNo": "提运单号", "domesticTrafNo": "境内运输工具编号",
    "msgCount": "报文总数", "msgSeqNo": "报文序号", "leaveTime": "离境日期",
    "portCode": "口岸海关代码", "ieDate": "出口日期", "statisticsFlag": "申报业务类型",
    "agentCode": "申报企业代码", "ownerCode": "生产销售单位代码", "tradeMode": "贸易方式",
    "country": "运抵国（地区）", "POD": "指运港代码", "netWeight": "净重", "gcode": "商品编码",
    "gname": "商品名称", "gmodel": "商品规格型号", "barCode": "条码", "qty1": "法定数量",
    "unit1": "法定计量单位", "reason": "原因", "coElNo": "企业内部编号",
    "declAgentCode": "申报单位代码", "startTime": "汇总开始时间", "endTime": "汇总结束时间",
    "summaryFlag": "汇总类型", "itemNameFlag": "商品名称合并标志",
}  # fmt: skip

_HS = re.compile(r"[0-9]{10}")


def _check_hs(value: str) -> str | None:
    return None if _HS.fullmatch(value) else "must be a 10-digit HS code (10位商品编码)"


def _check_date(value: str) -> str | None:
    if not _DIGITS8.fullmatch(value):
        return "must be 8 digits YYYYMMDD"
    try:
        # What strptime("%Y%m%d") accepts of 8 digits, at a tenth of its cost.
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return "is not a real calendar date"
    return None


_DIGITS8 = re.compile(r"[0-9]{8}")


_EXPORT_FLAG = _code_list(["E"], "ieFlag for export (E)")
_IMPORT_FLAG = _code_list(["I"], "ieFlag for a returned parcel (I)")

#: checks by field name, wherever the field occurs
VALUE_RULES: dict[str, tuple[str, ValueCheck]] = {
    "statisticsFlag": (CODE, _code_list(["A", "B"], "statisticsFlag (A simplified, B summary)")),
    "tradeMode": (CODE, _code_list(["9610", "1210", "9710", "9810"], "trade mode (贸易方式)")),
    "summaryFlag": (CODE, _code_list(["1", "2"], "summaryFlag (1 consignor, 2 + producer)")),
    "gcode": (HS_CODE, _check_hs),
    "ieDate": (TIME, _check_date),
    "leaveTime": (TIME, _check_time),
    "startTime": (TIME, _check_time),
    "endTime": (TIME, _check_time),
}

#: checks by (element, field)
BOUNDS: dict[tuple[str, str], tuple[str, ValueCheck]] = {
    ("ArrivalHead", "ieFlag"): (CODE, _EXPORT_FLAG),
    ("InventoryHead", "ieFlag"): (CODE, _EXPORT_FLAG),
    ("InvtRefundHead", "ieFlag"): (CODE, _IMPORT_FLAG),
    ("InvtRefundDetail", "ieFlag"): (CODE, _IMPORT_FLAG),
    ("InventoryHead", "freight"): (AMOUNT, _NOT_NEGATIVE),
    ("InventoryHead", "insuredFee"): (AMOUNT, _NOT_NEGATIVE),
    ("InventoryHead", "grossWeight"): (AMOUNT, _POSITIVE),
    ("InventoryHead", "netWeight"): (AMOUNT, _POSITIVE),
    ("InventoryHead", "packNo"): (AMOUNT, _at_least("1", strict=False, wording="must be ≥ 1")),
    ("InventoryList", "qty"): (AMOUNT, _POSITIVE),
    ("InventoryList", "qty1"): (AMOUNT, _POSITIVE),
    ("InventoryList", "price"): (AMOUNT, _NOT_NEGATIVE),
    ("InvtRefundList", "qty"): (AMOUNT, _POSITIVE),
    ("WayBillHead", "grossWeight"): (AMOUNT, _POSITIVE),
}

# --- record checks -----------------------------------------------------------------------------


def _integer(record: Record, name: str) -> int | None:
    text = record.head.text(name).strip()
    return int(text) if _DIGITS.fullmatch(text) else None


_DIGITS = re.compile(r"[0-9]+")


def _check_sequence(record: Record) -> Iterator[Violation]:
    count, seq = _integer(record, "msgCount"), _integer(record, "msgSeqNo")
    if count is None or seq is None:
        return  # empty: R-COM-2; not a number: the XSD
    if not 1 <= seq <= max(count, 1) or count < 1:
        field = record.head.field("msgSeqNo")
        text = f"msgSeqNo (报文序号) {seq} must be between 1 and msgCount (报文总数) {count}"
        yield Violation(SEQUENCE, _path(field), text, _line_of(field), str(seq))


def _once(field_name: str) -> base.RecordCheck:
    """`field_name` of the record's lines is unique within the whole message: each record
    is checked against itself and the records before it, so a repeat is reported once, at
    its second occurrence."""

    def check(record: Record) -> Iterator[Violation]:
        # The records before this one left their values in `record.earlier`: reading them
        # again from the tree for every record was quadratic in the number of records.
        earlier = record.earlier.setdefault(field_name, set())
        seen: set[str] = set()
        for line in record.lines:
            value = line.text(field_name).strip()
            if value and (value in seen or value in earlier):
                field = line.field(field_name)
                text = f"{_label(field_name)} {value} appears more than once in this message"
                yield Violation(PARCEL_ONCE, _path(field), text, _line_of(field), value)
            seen.add(value)
        earlier.update(_values(record, field_name))

    return check


def _values(record: Record, field_name: str) -> Iterator[str]:
    """The values of `field_name` in every child of the record (its lines, in a valid one)."""
    path = f"{{{CEB_NS}}}*/{{{CEB_NS}}}{field_name}"
    return (_text(f).strip() for f in record.element.iterfind(path))


def _check_weights(record: Record) -> Iterator[Violation]:
    gross = _decimal(record.head.text("grossWeight"))
    net = _decimal(record.head.text("netWeight"))
    if gross is not None and net is not None and net > gross:
        field = record.head.field("netWeight")
        text = f"netWeight (净重) {net} must not exceed grossWeight (毛重) {gross}"
        yield Violation(WEIGHT, _path(field), text, _line_of(field), _text(field))


def _check_period(record: Record) -> Iterator[Violation]:
    head = record.head
    start, end = head.text("startTime").strip(), head.text("endTime").strip()
    if bool(start) != bool(end):
        where = head.field("endTime")
        where = head.field("startTime") if where is None else where
        text = "startTime and endTime (汇总时间段) go together: give both or neither"
        yield Violation(PERIOD, _path(where), text, _line_of(where), start or end)
    elif start and end and _check_time(start) is None and _check_time(end) is None:
        if end <= start:  # 14 digits: string order is time order
            end_el = head.field("endTime")
            text = f"endTime {end} must be after startTime {start}"
            yield Violation(PERIOD, _path(end_el), text, _line_of(end_el), end)
    elif not start and not record.lines:
        text = "a summary application without a period must list inventory lists (invtNo)"
        yield Violation(COUNT, _path(head.element), text, _line_of(head.element), "0")


_GNUM = _check_gnum
_PARCELS = (_GNUM, _check_sequence, _once("logisticsNo"))
_WAYBILL_PARCELS = (*_PARCELS, _once("invtNo"))

MESSAGES: dict[str, MessageSpec] = {
    "CEB507Message": MessageSpec(
        "Arrival", "ArrivalHead", "ArrivalList", None, _PARCELS, min_lines=0
    ),
    "CEB509Message": MessageSpec("Departure", "DepartureHead", "DepartureList", None, _PARCELS),
    "CEB603Message": MessageSpec(
        "Inventory",
        "InventoryHead",
        "InventoryList",
        record_checks=(_GNUM, _check_line_totals, _check_weights),
    ),
    "CEB605Message": MessageSpec("InvtCancel"),
    "CEB607Message": MessageSpec("WayBill", "WayBillHead", "WayBillList", None, _WAYBILL_PARCELS),
    "CEB213Message": MessageSpec(
        "InvtRefund", "InvtRefundHead", "InvtRefundList", record_checks=(_GNUM,)
    ),
    "CEB215Message": MessageSpec("InvtRefundDetail"),
    "CEB701Message": MessageSpec(
        "SummaryApply",
        "SummaryApplyHead",
        "SummaryApplyList",
        None,
        (_check_sequence, _check_period, _once("invtNo")),
        min_lines=0,
    ),
}


def _register() -> None:
    """Add these tables to `gateway.checks` (which imports this module at its end)."""
    base.FIELDS.update(FIELDS)
    base.TERMS.update({k: v for k, v in TERMS.items() if k not in base.TERMS})
    base.VALUE_RULES.update(VALUE_RULES)
    base.BOUNDS.update(BOUNDS)
    base.RULES.update(RULES)
    base.MESSAGES.update(MESSAGES)
    base._REPEATING.update({s.record for s in MESSAGES.values()})
    base._REPEATING.update({s.lines for s in MESSAGES.values() if s.lines})


_register()
