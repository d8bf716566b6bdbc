"""Business checks of the export messages: order (CEB303), payment receipt (CEB403), waybill
(CEB505), arrival (CEB507), departure (CEB509), inventory list (CEB603), inventory revoke
(CEB605), total/sub waybill list (CEB607), return application (CEB213), return tally
(CEB215) and summary application (CEB701).

Tables for the core's check engine (`gateway.core.checks`), handed to it once as `TABLES`
when the system is installed: `FIELDS` (mandatory unless `?`, R-COM-2), code lists by field
name or by (element, field) (R-COM-1.code), record checks for what spans fields:

- an order's lines: qty × price = totalPrice to the cent, gnum 1, 2, 3…, and goodsValue the
  sum of the lines (R-ECX-1); charges, weights and counts in range;

- gcode is a 10-digit HS code (the merge key of summary declarations needs all 10, R-ECX-8);
- 1 ≤ msgSeqNo ≤ msgCount for messages of a batch split over several messages;
- inventory lines: qty × price = totalPrice to the cent, gnum 1, 2, 3…, net ≤ gross weight;
- a parcel appears once per arrival, departure or total/sub waybill message (across its
  records too: customs counts the parcels of a message, R-ECX-3), an inventory list once
  per total/sub waybill message;
- a summary application names a period (start and end) or at least one inventory list.

Coded fields (trafMode, country, unit/unit1/unit2, wrapType, customsCode, portCode) are
checked against the customs code tables (`gateway.ecx.codetables`, R-COM-1.code), not only
by their length in the XSD.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from gateway.codes import CEB_NS, CURRENCIES, OrderType
from gateway.core import checks as base
from gateway.core.checks import (
    CENT,
    CODE,
    COUNT,
    EXACT,
    INTEGER,
    NOT_NEGATIVE,
    POSITIVE,
    TIME,
    CheckTables,
    MessageSpec,
    Record,
    ValueCheck,
    at_least,
    check_time,
    code_list,
    label,
    line_of,
    parse_decimal,
    path_of,
    text_of,
)
from gateway.ecx import codetables
from gateway.errors import Violation

# --- rule ids ----------------------------------------------------------------------------------

SUM = "R-ECX-1.sum"
LINE = "R-ECX-1.line"
GNUM = "R-ECX-1.gnum"
AMOUNT = "R-ECX-1.amount"
HS_CODE = "R-ECX-2.gcode"
SEQUENCE = "R-ECX-3.seq"
PARCEL_ONCE = "R-ECX-3.duplicate"
WEIGHT = "R-ECX-2.weight"
PERIOD = "R-ECX-8.period"

RULES: dict[str, str] = {
    SUM: "Order goodsValue equals the sum of its OrderList totalPrice, to the cent.",
    LINE: "OrderList totalPrice equals qty × price rounded half-up to the cent.",
    GNUM: "OrderList gnum runs 1, 2, 3… in document order, without gaps or repeats.",
    AMOUNT: "charge and grossWeight are > 0, packNo ≥ 1, freight and insuredFee ≥ 0.",
    HS_CODE: "gcode (商品编码) is a 10-digit HS code.",
    SEQUENCE: "A batch split over several messages numbers them: 1 ≤ msgSeqNo ≤ msgCount.",
    PARCEL_ONCE: "A parcel (logisticsNo) or inventory list (invtNo) appears once per message.",
    WEIGHT: "An inventory list's netWeight is at most its grossWeight.",
    PERIOD: "A summary application gives startTime and endTime together (start before end),"
    " or lists at least one inventory list.",
}

# --- tables ------------------------------------------------------------------------------------

# Field order per ceb-messages.md; "?" marks an optional (O) field, all others are mandatory.
_ORDER_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(spec.split())
    for name, spec in {
        "OrderHead": "guid appType appTime appStatus orderType orderNo ebpCode ebpName ebcCode"
        " ebcName goodsValue freight currency note?",
        "OrderList": "gnum itemNo itemName itemDescribe? barCode? unit currency qty price"
        " totalPrice note?",
        "Receipts": "guid appType appTime appStatus ebpCode ebpName ebcCode ebcName orderNo"
        " payCode? payName payNo? charge currency accountingDate note?",
        "Logistics": "guid appType appTime appStatus logisticsCode logisticsName logisticsNo"
        " freight insuredFee currency grossWeight packNo goodsInfo ebcCode? ebcName?"
        " ebcTelephone? note?",
    }.items()
}

#: Chinese terms of the standard, so a broker recognises the field in a message.
_ORDER_TERMS: dict[str, str] = {
    "guid": "系统唯一序号", "appType": "企业报送类型", "appTime": "企业报送时间",
    "appStatus": "业务状态", "orderType": "电子订单类型", "orderNo": "订单编号",
    "ebpCode": "电商平台代码", "ebpName": "电商平台名称", "ebcCode": "电商企业代码",
    "ebcName": "电商企业名称", "goodsValue": "商品价格", "freight": "运杂费",
    "currency": "币制", "gnum": "商品序号", "itemNo": "企业商品货号", "itemName": "企业商品名称",
    "unit": "计量单位", "qty": "数量", "price": "单价", "totalPrice": "总价",
    "payName": "支付企业名称", "charge": "收款金额", "accountingDate": "到账时间",
    "logisticsCode": "物流企业代码", "logisticsName": "物流企业名称",
    "logisticsNo": "物流运单编号", "insuredFee": "保价费", "grossWeight": "毛重",
    "packNo": "件数", "goodsInfo": "主要货物信息", "copCode": "传输企业代码",
    "copName": "传输企业名称", "dxpMode": "报文传输模式", "dxpId": "报文传输编号",
}  # fmt: skip

_AT_LEAST_ONE = at_least("1", strict=False, wording="must be at least 1")
_CURRENCY = code_list(CURRENCIES, "customs currency code (币制代码)")
_ORDER_TYPE = code_list([t.value for t in OrderType], "orderType (E, B or W)")

_ORDER_VALUE_RULES: dict[str, tuple[str, ValueCheck]] = {
    "orderType": (CODE, _ORDER_TYPE),
    "currency": (CODE, _CURRENCY),
    "fCurrency": (CODE, _CURRENCY),
    "iCurrency": (CODE, _CURRENCY),
    "accountingDate": (TIME, check_time),
}

_ORDER_BOUNDS: dict[tuple[str, str], tuple[str, ValueCheck]] = {
    ("OrderHead", "freight"): (AMOUNT, NOT_NEGATIVE),
    ("Receipts", "charge"): (AMOUNT, POSITIVE),
    ("Logistics", "grossWeight"): (AMOUNT, POSITIVE),
    ("Logistics", "packNo"): (AMOUNT, _AT_LEAST_ONE),
    ("Logistics", "freight"): (AMOUNT, NOT_NEGATIVE),
    ("Logistics", "insuredFee"): (AMOUNT, NOT_NEGATIVE),
}


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


_EXPORT_FLAG = code_list(["E"], "ieFlag for export (E)")
_IMPORT_FLAG = code_list(["I"], "ieFlag for a returned parcel (I)")

#: checks by field name, wherever the field occurs
VALUE_RULES: dict[str, tuple[str, ValueCheck]] = {
    "statisticsFlag": (CODE, code_list(["A", "B"], "statisticsFlag (A simplified, B summary)")),
    "tradeMode": (CODE, code_list(["9610", "1210", "9710", "9810"], "trade mode (贸易方式)")),
    "summaryFlag": (CODE, code_list(["1", "2"], "summaryFlag (1 consignor, 2 + producer)")),
    "gcode": (HS_CODE, _check_hs),
    "ieDate": (TIME, _check_date),
    "leaveTime": (TIME, check_time),
    "startTime": (TIME, check_time),
    "endTime": (TIME, check_time),
    # transport mode, country, unit, packaging and customs/port codes: the customs code
    # tables (gateway/ecx/codetables.py; manual 3.1 parameter fields, issue #16 gap 9)
    **codetables.value_rules(),
}

#: checks by (element, field)
BOUNDS: dict[tuple[str, str], tuple[str, ValueCheck]] = {
    ("ArrivalHead", "ieFlag"): (CODE, _EXPORT_FLAG),
    ("InventoryHead", "ieFlag"): (CODE, _EXPORT_FLAG),
    ("InvtRefundHead", "ieFlag"): (CODE, _IMPORT_FLAG),
    ("InvtRefundDetail", "ieFlag"): (CODE, _IMPORT_FLAG),
    ("InventoryHead", "freight"): (AMOUNT, NOT_NEGATIVE),
    ("InventoryHead", "insuredFee"): (AMOUNT, NOT_NEGATIVE),
    ("InventoryHead", "grossWeight"): (AMOUNT, POSITIVE),
    ("InventoryHead", "netWeight"): (AMOUNT, POSITIVE),
    ("InventoryHead", "packNo"): (AMOUNT, at_least("1", strict=False, wording="must be ≥ 1")),
    ("InventoryList", "qty"): (AMOUNT, POSITIVE),
    ("InventoryList", "qty1"): (AMOUNT, POSITIVE),
    ("InventoryList", "price"): (AMOUNT, NOT_NEGATIVE),
    ("InvtRefundList", "qty"): (AMOUNT, POSITIVE),
    ("WayBillHead", "grossWeight"): (AMOUNT, POSITIVE),
}

# --- record checks -----------------------------------------------------------------------------

# order checks (R-ECX-1)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP, context=EXACT)


def _check_line_totals(record: Record) -> Iterator[Violation]:
    for line in record.lines:
        qty, price = parse_decimal(line.text("qty")), parse_decimal(line.text("price"))
        total = parse_decimal(line.text("totalPrice"))
        if qty is None or price is None or total is None:
            continue  # empty or malformed: reported by R-COM-2 / the XSD
        expected = _cents(EXACT.multiply(qty, price))
        if _cents(total) != expected:
            field = line.field("totalPrice")
            text = f"totalPrice (总价) must equal qty × price, {qty} × {price} = {expected}"
            yield Violation(LINE, path_of(field), text, line_of(field), line.text("totalPrice"))


def _check_goods_value(record: Record) -> Iterator[Violation]:
    value = parse_decimal(record.head.text("goodsValue"))
    totals = [parse_decimal(line.text("totalPrice")) for line in record.lines]
    if value is None or None in totals:
        return
    expected = _cents(sum((t for t in totals if t is not None), Decimal(0)))
    if _cents(value) != expected:
        field = record.head.field("goodsValue")
        text = f"goodsValue (商品价格) must equal the sum of the lines' totalPrice, {expected}"
        yield Violation(SUM, path_of(field), text, line_of(field), record.head.text("goodsValue"))


def _check_gnum(record: Record) -> Iterator[Violation]:
    expected = 1
    for line in record.lines:
        text = line.text("gnum").strip()
        if not INTEGER.fullmatch(text):
            continue  # empty: reported by R-COM-2
        number = int(text)
        if number != expected:
            field = line.field("gnum")
            problem = _gnum_problem(number, expected)
            yield Violation(GNUM, path_of(field), problem, line_of(field), text)
        # after a gap, carry on from the number given so one gap is reported once
        expected = max(expected, number + 1)


def _gnum_problem(number: int, expected: int) -> str:
    if number < expected:
        return f"gnum (商品序号) {number} repeats or goes backwards; the next should be {expected}"
    missing = f"{expected}" if number == expected + 1 else f"{expected} to {number - 1}"
    return f"gnum (商品序号) {number} skips {missing}: numbers must run 1, 2, 3… without gaps"


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
        yield Violation(SEQUENCE, path_of(field), text, line_of(field), str(seq))


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
                text = f"{label(field_name)} {value} appears more than once in this message"
                yield Violation(PARCEL_ONCE, path_of(field), text, line_of(field), value)
            seen.add(value)
        earlier.update(_values(record, field_name))

    return check


def _values(record: Record, field_name: str) -> Iterator[str]:
    """The values of `field_name` in every child of the record (its lines, in a valid one)."""
    path = f"{{{CEB_NS}}}*/{{{CEB_NS}}}{field_name}"
    return (text_of(f).strip() for f in record.element.iterfind(path))


def _check_weights(record: Record) -> Iterator[Violation]:
    gross = parse_decimal(record.head.text("grossWeight"))
    net = parse_decimal(record.head.text("netWeight"))
    if gross is not None and net is not None and net > gross:
        field = record.head.field("netWeight")
        text = f"netWeight (净重) {net} must not exceed grossWeight (毛重) {gross}"
        yield Violation(WEIGHT, path_of(field), text, line_of(field), text_of(field))


def _check_period(record: Record) -> Iterator[Violation]:
    head = record.head
    start, end = head.text("startTime").strip(), head.text("endTime").strip()
    if bool(start) != bool(end):
        where = head.field("endTime")
        where = head.field("startTime") if where is None else where
        text = "startTime and endTime (汇总时间段) go together: give both or neither"
        yield Violation(PERIOD, path_of(where), text, line_of(where), start or end)
    elif start and end and check_time(start) is None and check_time(end) is None:
        if end <= start:  # 14 digits: string order is time order
            end_el = head.field("endTime")
            text = f"endTime {end} must be after startTime {start}"
            yield Violation(PERIOD, path_of(end_el), text, line_of(end_el), end)
    elif not start and not record.lines:
        text = "a summary application without a period must list inventory lists (invtNo)"
        yield Violation(COUNT, path_of(head.element), text, line_of(head.element), "0")


_GNUM = _check_gnum
_PARCELS = (_GNUM, _check_sequence, _once("logisticsNo"))
_WAYBILL_PARCELS = (*_PARCELS, _once("invtNo"))

MESSAGES: dict[str, MessageSpec] = {
    "CEB303Message": MessageSpec(
        "Order",
        head="OrderHead",
        lines="OrderList",
        record_checks=(_check_gnum, _check_line_totals, _check_goods_value),
    ),
    "CEB403Message": MessageSpec("Receipts"),
    "CEB505Message": MessageSpec("Logistics"),
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


#: what this system adds to the core's check engine
TABLES = CheckTables(
    messages=MESSAGES,
    fields={**_ORDER_FIELDS, **FIELDS},
    terms={**_ORDER_TERMS, **TERMS},
    value_rules={**_ORDER_VALUE_RULES, **VALUE_RULES},
    bounds={**_ORDER_BOUNDS, **BOUNDS},
    rules=RULES,
)
