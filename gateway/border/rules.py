"""The rules of a border declaration's form (R-BDR-4, R-BDR-5), the biometric rule (R-BDR-6)
and who must authenticate before it leaves (R-BDR-7).

Pure functions of the form (`messages` shape): the terminal's API runs them before asking the
resident for a finger or a face, and the intake hook (`kinds`) runs them again on the message
itself, so a message that reaches the store has passed them whatever built it. Every refusal
is a `Violation` naming the rule, the field (`EntryGoods[2]/amount`) and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from gateway.border.codes import (
    COUNTRIES,
    CURRENCY,
    DISTRICTS,
    BusinessMode,
    DeclarantType,
    DeclType,
    Form,
    GoodsFlow,
    TransportMode,
    VehicleType,
)
from gateway.errors import Violation

ENTRY_RULE, IMPORT_RULE = "R-BDR-4", "R-BDR-5"
BIOMETRIC_RULE, DELEGATION_RULE, STATE_RULE = "R-BDR-6", "R-BDR-7", "R-BDR-8"
TOTALS_RULE = "R-BDR-4.totals"

_PRE_ENTRY = re.compile(r"[0-9]{4}(01|03)[0-9]{12}")
_DECL_NO = re.compile(r"[0-9]{4}[0-9][0-9]{6}(11|12)[0-9]{5}")
_ID = re.compile(r"[0-9]{17}[0-9X]")
_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_FEN = Decimal("0.01")


# --- R-BDR-6 and R-BDR-7 -----------------------------------------------------------------------


def biometric_required(form: Form, mode: str, transport: str) -> bool:
    """R-BDR-6 (manual §4.3 D1, §5.2): an entry declaration skips the check in 区内交易, and in
    落地加工 / 原装提离 by rail or water; every other entry declaration, and every import
    declaration whatever its mode, needs the declarant to pass the place's check."""
    if form is Form.IMPORT:
        return True
    if mode == BusinessMode.IN_ZONE:
        return False
    skip_transport = transport in (TransportMode.RAIL, TransportMode.WATER)
    return not (
        mode in (BusinessMode.LANDED_PROCESSING, BusinessMode.ORIGINAL_REMOVAL) and skip_transport
    )


def needs_delegate_authentication(form: Form, declarant_type: str, transport: str) -> bool:
    """R-BDR-7 (manual §4.3 D4, §5.2): a representative's entry declaration by road or other
    transport, and any representative's import declaration, waits (待认证) until every
    delegating resident passed face authentication; a resident's own goes straight on. A
    representative's entry by rail or water is not covered by the manual: it goes on (as
    border.md §4.3 infers)."""
    if declarant_type == DeclarantType.RESIDENT:
        return False
    if form is Form.IMPORT:
        return True
    return transport in (TransportMode.ROAD, TransportMode.OTHER)


# --- the form ----------------------------------------------------------------------------------


class _Found:
    """Violations of one form, each under the rule of the form's kind unless said."""

    def __init__(self, rule: str, record: str) -> None:
        self.rule, self.record, self.items = rule, record, []  # type: ignore[var-annotated]

    def add(self, field: str, message: str, value: Any = None, rule: str | None = None) -> None:
        shown = None if value is None else str(value)
        self.items.append(
            Violation(rule or self.rule, f"{self.record}/{field}", message, value=shown)
        )


def check_form(form: Form, values: Mapping[str, Any]) -> list[Violation]:
    """Every violation of a declaration's form (an application or a change)."""
    rule = ENTRY_RULE if form is Form.ENTRY else IMPORT_RULE
    record = "EntryDeclaration" if form is Form.ENTRY else "ImportDeclaration"
    found = _Found(rule, record)
    head = values.get("head", {})
    _declarant(found, form, head, values.get("delegates") or [])
    _head(found, form, head)
    goods_tag = "EntryGoods" if form is Form.ENTRY else "ImportGoods"
    lines = values.get("goods") or []
    if not lines:
        found.add(goods_tag, "at least one goods line (表体)")
    for n, line in enumerate(lines, start=1):
        _goods(found, f"{goods_tag}[{n}]", n, line)
    _totals(found, head, lines)
    if form is Form.ENTRY:
        _vehicles(found, head, values.get("vehicles") or [])
    return found.items


def check_revoke(values: Mapping[str, Any]) -> list[Violation]:
    found = _Found(STATE_RULE, "Revoke")
    head = values.get("head", {})
    if not head.get("reason", "").strip():
        found.add("reason", "a revoke needs its reason (撤销原因)")
    if head.get("declType") != DeclType.REVOKE:
        found.add("declType", "a revoke is 申报类型 02", head.get("declType"))
    if not _DECL_NO.fullmatch(head.get("origDeclNo", "")):
        found.add(
            "origDeclNo",
            "customs' declaration number of the revoked record, 18 "
            "digits (district + 1 + YYMMDD + 11/12 + 5)",
            head.get("origDeclNo"),
        )
    if not _PRE_ENTRY.fullmatch(head.get("origPreEntryNo", "")):
        found.add("origPreEntryNo", "YYYY + 01/03 + 12 digits", head.get("origPreEntryNo"))
    return found.items


def _declarant(found: _Found, form: Form, head: Mapping[str, str], delegates: list[Any]) -> None:
    if not _PRE_ENTRY.fullmatch(head.get("preEntryNo", "")) or head["preEntryNo"][4:6] != form:
        found.add("preEntryNo", f"YYYY + {form.value} + 12 digits", head.get("preEntryNo"))
    kind = head.get("declType", "")
    if kind not in (DeclType.APPLICATION, DeclType.CHANGE):
        found.add("declType", "00 (申请) or 01 (变更)", kind)
    if kind == DeclType.CHANGE:
        if not _DECL_NO.fullmatch(head.get("origDeclNo", "")):
            found.add(
                "origDeclNo",
                "a change names customs' declaration number it changes",
                head.get("origDeclNo"),
                STATE_RULE,
            )
        if not head.get("reason", "").strip():
            found.add("reason", "a change needs its reason (改单原因)", None, STATE_RULE)
    _code(found, head, "districtCode", DISTRICTS, "a customs district (关区代码)")
    if head.get("ieFlag") != "I":
        found.add(
            "ieFlag", "I (进口): border residents' declarations are imports", head.get("ieFlag")
        )
    who = head.get("declarantType", "")
    _code(
        found,
        head,
        "declarantType",
        [t.value for t in DeclarantType],
        "1 边民, 2 互助组代表 or 3 合作社代表",
    )
    if not _ID.fullmatch(head.get("idNumber", "")):
        found.add("idNumber", "an 18-character resident ID number")  # never echo it
    for name in ("declarantName", "terminalId", "placeCode"):
        if not head.get(name, "").strip():
            found.add(name, "missing")
    if who in (DeclarantType.GROUP_REPRESENTATIVE, DeclarantType.COOPERATIVE_REPRESENTATIVE):
        _organisation(found, head, who, delegates)
    elif delegates:
        found.add(
            "Delegate",
            "only a representative declares for delegating residents",
            len(delegates),
            DELEGATION_RULE,
        )


def _organisation(found: _Found, head: Mapping[str, str], who: str, delegates: list[Any]) -> None:
    for name, term in (("orgRegNo", "互助组/合作社备案编号"), ("orgName", "互助组/合作社名称")):
        if not head.get(name, "").strip():
            found.add(name, f"a representative declares for a group or cooperative ({term})")
    uscc = head.get("orgUscc", "")
    if who == DeclarantType.COOPERATIVE_REPRESENTATIVE and not _USCC.fullmatch(uscc):
        found.add("orgUscc", "a cooperative's 18-character unified social credit code", uscc)
    if not delegates:
        found.add(
            "Delegate",
            "a representative's declaration lists the residents it is made for (委托边民)",
            None,
            DELEGATION_RULE,
        )
    seen: set[str] = set()
    for n, item in enumerate(delegates, start=1):
        number = item.get("idNumber", "")
        if not _ID.fullmatch(number):
            found.add(
                f"Delegate[{n}]/idNumber",
                "an 18-character resident ID number",
                None,
                DELEGATION_RULE,
            )
        elif number in seen:
            found.add(f"Delegate[{n}]/idNumber", "the same resident twice", None, DELEGATION_RULE)
        seen.add(number)


def _head(found: _Found, form: Form, head: Mapping[str, str]) -> None:
    mode = head.get("businessMode", "")
    _code(
        found,
        head,
        "businessMode",
        [m.value for m in BusinessMode],
        "01 区内交易, 02 落地加工 or 03 原装提离",
    )
    _code(
        found,
        head,
        "transportMode",
        [t.value for t in TransportMode],
        "2 水路, 3 铁路, 4 公路 or 9 其他",
    )
    if head.get("vehicleType"):
        _code(found, head, "vehicleType", [v.value for v in VehicleType], "1 三轮车 or 5 其他")
    if head.get("currency") != CURRENCY:
        found.add("currency", "CNY: amounts are 总金额(元)", head.get("currency"))
    _code(found, head, "tradeCountry", COUNTRIES, "a country code (贸易国别)")
    if head.get("goodsFlow"):
        _code(found, head, "goodsFlow", [g.value for g in GoodsFlow], "1 生活自用 or 2 二次销售")
    for flag in ("certInvolved", "carPooling"):
        if head.get(flag) and head[flag] not in ("Y", "N"):
            found.add(flag, "Y or N", head[flag])
    if head.get("certInvolved") == "Y" and not head.get("certNo", "").strip():
        found.add("certNo", "是否涉及证书(预)备案 is Y: the 证书(预)备案编号 is needed")
    if mode == BusinessMode.LANDED_PROCESSING:
        if not _USCC.fullmatch(head.get("processingUscc", "")):
            found.add(
                "processingUscc",
                "落地加工 needs the processing enterprise's 18-character "
                "unified social credit code",
                head.get("processingUscc"),
            )
        if not head.get("processingName", "").strip():
            found.add("processingName", "落地加工 needs the processing enterprise's name")
    road = head.get("transportMode") in (TransportMode.ROAD, TransportMode.OTHER)
    if road and not head.get("vehicleNo", "").strip():
        found.add("vehicleNo", "公路/其他 transport needs the vehicle's plate (运输工具号)")
    if road and not head.get("vehicleType"):
        found.add("vehicleType", "公路/其他 transport needs the vehicle type (运输工具类型)")
    linked = head.get("entryDeclNo", "") if form is Form.IMPORT else ""
    if linked and (not _DECL_NO.fullmatch(linked) or linked[11:13] != "11"):
        found.add(
            "entryDeclNo",
            "an entry declaration number (district + 1 + YYMMDD + 11 + 5 digits)",
            linked,
        )
    if _whole(head.get("packages")) in (None, 0):
        found.add("packages", "a whole number of packages, more than 0", head.get("packages"))


def _code(
    found: _Found, head: Mapping[str, str], name: str, codes: Iterable[str], what: str
) -> None:
    value = head.get(name, "")
    if value not in set(codes):
        found.add(name, f"must be {what}" if value else f"missing: {what}", value or None)


def _goods(found: _Found, where: str, n: int, line: Mapping[str, str]) -> None:
    def add(field: str, message: str, value: Any = None) -> None:
        found.add(f"{where.split('/')[-1]}/{field}", message, value)

    if line.get("itemNo") != str(n):
        add("itemNo", f"goods lines are numbered 1, 2, 3…: this is line {n}", line.get("itemNo"))
    for name in ("goodsCode", "goodsName", "unit"):
        if not line.get(name, "").strip():
            add(name, "missing")
    if line.get("origin", "") not in COUNTRIES:
        add("origin", "a country code (原产国)", line.get("origin") or None)
    numbers = {
        k: _number(line.get(k)) for k in ("qty", "unitPrice", "amount", "grossWeight", "netWeight")
    }
    for name, value in numbers.items():
        if value is None or (name in ("qty", "unitPrice") and value <= 0):
            add(
                name,
                "a number more than 0" if name in ("qty", "unitPrice") else "a number ≥ 0",
                line.get(name),
            )
    qty, price, amount = numbers["qty"], numbers["unitPrice"], numbers["amount"]
    if (
        qty
        and price
        and amount is not None
        and (qty * price).quantize(_FEN, ROUND_HALF_UP) != amount
    ):
        expected = (qty * price).quantize(_FEN, ROUND_HALF_UP)
        found.add(
            f"{where}/amount",
            f"金额 must be 数量 × 单价 = {expected}",
            line.get("amount"),
            TOTALS_RULE,
        )
    gross, net = numbers["grossWeight"], numbers["netWeight"]
    if gross is not None and net is not None and net > gross:
        found.add(
            f"{where}/netWeight",
            f"净重 cannot exceed 毛重 {gross}",
            line.get("netWeight"),
            TOTALS_RULE,
        )


def _totals(found: _Found, head: Mapping[str, str], lines: list[Mapping[str, str]]) -> None:
    """总金额, 总毛重, 总净重 are the sums of the lines; 总净重 ≤ 总毛重."""
    for total, line_field, term in (
        ("totalAmount", "amount", "总金额"),
        ("grossWeight", "grossWeight", "总毛重"),
        ("netWeight", "netWeight", "总净重"),
    ):
        value = _number(head.get(total))
        if value is None:
            found.add(total, f"{term}: a number ≥ 0", head.get(total))
            continue
        parts = [_number(line.get(line_field)) for line in lines]
        if lines and all(p is not None for p in parts):
            summed = sum((p for p in parts if p is not None), Decimal(0))
            if summed != value:
                found.add(
                    total,
                    f"{term} must be the sum of the goods lines' = {summed.normalize():f}",
                    head.get(total),
                    TOTALS_RULE,
                )
    gross, net = _number(head.get("grossWeight")), _number(head.get("netWeight"))
    if gross is not None and net is not None and net > gross:
        found.add(
            "netWeight", f"总净重 cannot exceed 总毛重 {gross}", head.get("netWeight"), TOTALS_RULE
        )


def _vehicles(found: _Found, head: Mapping[str, str], vehicles: list[Mapping[str, str]]) -> None:
    """车辆表: by road or other transport, the vehicles carrying the goods; the head's plate is
    one of them."""
    road = head.get("transportMode") in (TransportMode.ROAD, TransportMode.OTHER)
    if road and not vehicles:
        found.add("Vehicle", "公路/其他 transport lists its vehicles (进境申报单车辆表)")
    plates = []
    for n, item in enumerate(vehicles, start=1):
        if item.get("seqNo") != str(n):
            found.add(
                f"Vehicle[{n}]/seqNo",
                f"vehicles are numbered 1, 2, 3…: this is {n}",
                item.get("seqNo"),
            )
        if not item.get("vehicleNo", "").strip():
            found.add(f"Vehicle[{n}]/vehicleNo", "missing")
        if item.get("vehicleType") not in [v.value for v in VehicleType]:
            found.add(f"Vehicle[{n}]/vehicleType", "1 三轮车 or 5 其他", item.get("vehicleType"))
        plates.append(item.get("vehicleNo", ""))
    plate = head.get("vehicleNo", "")
    if vehicles and plate and plate not in plates:
        found.add("vehicleNo", "the head's vehicle is one of the 车辆表's", plate)


def _number(text: Any) -> Decimal | None:
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value >= 0 else None


def _whole(text: Any) -> int | None:
    value = str(text or "").strip()
    return int(value) if value.isdigit() else None
