"""Border-trade forms, declarants and messages for the demo, the tests and an integrator to copy.

`entry_form()` is a complete 进境申报单 form (the terminal's input: head, goods lines,
vehicles), `import_form()` a 进口申报单; `entry_message()`/`import_message()`/`revoke_message()`
build the BDR101/103/105 the gateway sends for them. The place, its operator and the goods
catalogue are the ones the simulated customs' default reference data knows (`sim`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from gateway.border import messages
from gateway.border.codes import BusinessMode, DeclType, Form, TransportMode
from gateway.border.identity import BiometricMethod, Declarant, Organisation, Role
from gateway.core.parties import Party

#: the supervised place of the manual's examples (860901 打洛互市, district 8609 打洛海关), and
#: its operator, a gateway enterprise whose key signs the place's declarations
PLACE_CODE, PLACE_NAME, DISTRICT = "860901", "打洛互市", "8609"
OPERATOR = Party("8609960001", "勐海县打洛边民互市贸易服务有限公司", "DXPENT0000860901")
METHOD = BiometricMethod.FACE

#: the goods catalogue (商品分类表) entries the samples use
CATALOGUE: tuple[dict[str, str], ...] = (
    {"goodsCode": "0801", "name": "椰子", "unit": "千克"},
    {"goodsCode": "0804", "name": "芒果", "unit": "千克"},
    {"goodsCode": "0901", "name": "咖啡豆", "unit": "千克"},
    {"goodsCode": "1006", "name": "大米", "unit": "千克"},
    {"goodsCode": "4403", "name": "原木", "unit": "立方米"},
)

RESIDENT_ID = "53282219800101214X"
MEMBER_IDS = ("532822198502023317", "532822199003031129")
PLATE = "云K12345"


def resident(terminal: str = "T-860901-01", id_number: str = RESIDENT_ID) -> Declarant:
    return Declarant(
        id_number=id_number,
        name="岩温",
        role=Role.RESIDENT,
        district=DISTRICT,
        terminal_id=terminal,
        place_code=PLACE_CODE,
    )


def representative(
    terminal: str = "T-860901-01", members: tuple[str, ...] = MEMBER_IDS
) -> Declarant:
    org = Organisation("HZZ8609000012", "打洛镇曼掌村边民互助组")
    return Declarant(
        id_number="532822197506061518",
        name="玉罕",
        role=Role.GROUP_REPRESENTATIVE,
        district=DISTRICT,
        terminal_id=terminal,
        place_code=PLACE_CODE,
        organisation=org,
        members=members,
    )


def cooperative(terminal: str = "T-860901-01", members: tuple[str, ...] = MEMBER_IDS) -> Declarant:
    org = Organisation("HZS8609000003", "勐海县打洛边民互市合作社", "93532822MA6N7X1A2B")
    return Declarant(
        id_number="532822197707071526",
        name="岩香",
        role=Role.COOPERATIVE_REPRESENTATIVE,
        district=DISTRICT,
        terminal_id=terminal,
        place_code=PLACE_CODE,
        organisation=org,
        members=members,
    )


def goods_line(
    n: int, code: str = "0801", qty: str = "100", price: str = "3.5", origin: str = "MMR"
) -> dict[str, str]:
    amount = (Decimal(qty) * Decimal(price)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    names = {c["goodsCode"]: (c["name"], c["unit"]) for c in CATALOGUE}
    name, unit = names.get(code, ("未列名商品", "千克"))
    gross = Decimal(qty) * Decimal("1.1")
    return {
        "itemNo": str(n),
        "goodsCode": code,
        "goodsName": name,
        "origin": origin,
        "qty": qty,
        "unit": unit,
        "unitPrice": price,
        "amount": f"{amount}",
        "grossWeight": f"{gross.normalize():f}",
        "netWeight": qty,
    }


def _totals(head: dict[str, str], goods: list[dict[str, str]]) -> None:
    def total(name: str) -> str:
        return f"{sum((Decimal(g[name]) for g in goods), Decimal(0)).normalize():f}"

    head["totalAmount"] = f"{sum((Decimal(g['amount']) for g in goods), Decimal(0)):.2f}"
    head["grossWeight"], head["netWeight"] = total("grossWeight"), total("netWeight")


def entry_form(
    mode: str = BusinessMode.IN_ZONE,
    transport: str = TransportMode.ROAD,
    goods: list[dict[str, str]] | None = None,
    country: str = "MMR",
    **head: str,
) -> dict[str, Any]:
    """A complete 进境申报单 as the terminal sends it (the declarant's fields come from the
    session)."""
    lines = goods or [goods_line(1), goods_line(2, "0804", "50", "6")]
    road = transport in (TransportMode.ROAD, TransportMode.OTHER)
    values: dict[str, Any] = {
        "head": {
            "businessMode": str(mode),
            "transportMode": str(transport),
            "vehicleType": "5" if road else "",
            "vehicleNo": PLATE if road else "",
            "voyageNo": "" if road else "K8601",
            "billNo": "DL2026000001",
            "currency": "CNY",
            "packages": "12",
            "tradeCountry": country,
            "goodsFlow": "1",
            "carPooling": "N",
            "certInvolved": "N",
        },
        "goods": lines,
        "vehicles": [{"seqNo": "1", "vehicleNo": PLATE, "vehicleType": "5"}] if road else [],
    }
    if mode == BusinessMode.LANDED_PROCESSING:
        values["head"].update(
            processingUscc="91532822MA6K4C7Q1E", processingName="勐海县打洛坚果加工有限公司"
        )
    values["head"].update(head)
    _totals(values["head"], lines)
    return values


def import_form(
    mode: str = BusinessMode.IN_ZONE,
    transport: str = TransportMode.ROAD,
    goods: list[dict[str, str]] | None = None,
    country: str = "MMR",
    **head: str,
) -> dict[str, Any]:
    """A complete 进口申报单 (no vehicle table; the plate in the head)."""
    values = entry_form(mode, transport, goods, country, **head)
    values.pop("vehicles")
    values["head"]["goodsFlow"] = "2"
    return values


def filled(
    form: Form, values: Mapping[str, Any], who: Declarant, pre_entry_no: str, **head: str
) -> dict[str, Any]:
    """The form with the declarant's fields, as `declarations` fills them from the session."""
    org = who.organisation
    out = {
        **values,
        "head": {
            **values["head"],
            "preEntryNo": pre_entry_no,
            "declType": DeclType.APPLICATION.value,
            "districtCode": who.district,
            "ieFlag": "I",
            "declarantType": who.role.value,
            "idNumber": who.id_number,
            "declarantName": who.name,
            "terminalId": who.terminal_id,
            "placeCode": who.place_code,
            "placeName": PLACE_NAME,
            "orgRegNo": org.registration_no if org else "",
            "orgName": org.name if org else "",
            "orgUscc": (org.uscc or "") if org and org.uscc else "",
            **head,
        },
    }
    out["delegates"] = [{"idNumber": m} for m in who.members]
    if form is Form.IMPORT:
        out.pop("vehicles", None)
    return out


def entry_message(
    at: datetime, pre_entry_no: str = "202601000000000001", sender: Party = OPERATOR
) -> bytes:
    values = filled(Form.ENTRY, entry_form(), resident(), pre_entry_no)
    return messages.build(Form.ENTRY, values, sender, at=at)


def import_message(
    at: datetime, pre_entry_no: str = "202603000000000001", sender: Party = OPERATOR
) -> bytes:
    values = filled(Form.IMPORT, import_form(), resident(), pre_entry_no)
    values["biometric"] = {
        "method": "face",
        "passed": "Y",
        "attempts": "1",
        "checkedAt": messages.app_time(at),
        "terminalId": "T-860901-01",
    }
    return messages.build(Form.IMPORT, values, sender, at=at)


def revoke_message(
    at: datetime,
    original: str = "202601000000000001",
    decl_no: str = "860952601151100001",
    sender: Party = OPERATOR,
) -> bytes:
    who = resident()
    values = {
        "head": {
            "preEntryNo": original[:6] + "000000000099",
            "declType": "02",
            "origDeclNo": decl_no,
            "reason": "商品品质不符，申请撤销",
            "districtCode": DISTRICT,
            "ieFlag": "I",
            "declarantType": "1",
            "idNumber": who.id_number,
            "declarantName": who.name,
            "terminalId": who.terminal_id,
            "placeCode": PLACE_CODE,
            "placeName": PLACE_NAME,
            "origPreEntryNo": original,
        }
    }
    return messages.build(None, values, sender, at=at)
