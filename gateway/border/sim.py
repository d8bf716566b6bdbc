"""What the simulated customs does with border-trade declarations (R-BDR-9).

Customs stores every declaration it can read (Y-海关入库成功, with its 申报单编号: district + 1
digit + YYMMDD + 11 entry / 12 import + 5 digits, manual §4.1/§5.1) and reviews it against the
reference data it holds (`Reference`): the countries each district's port trades with, the
registered supervised places, the vehicles with their validity and the places they are bound
to, the goods catalogue (商品分类表) and the origins allowed. Each failed check is one reason in
the manual's words, all joined with "；" in the 监管审核意见 of a return (00-退单):

    贸易国别非法；产制非法；监管作业场所未备案；车辆粤B09002未备案或不在有效期；
    进口时，无法查询到监管场所参数，无法校验车辆绑定记录；商品序号1在商品分类表中不存在，不允许申报；

A declaration that passes is approved (审核通过) and released (11-单证放行; 实货放行 too when
`Reference.stop_at` says so), or held for inspection (05-待检查, a goods code customs
inspects), or converted to a general-trade declaration (转普货报关) when its amount is over the
residents' duty-free allowance (ours: 8000 yuan a resident a day, the policy; not in the
manual). A revoke (BDR105) of a declaration customs approved or released is stored and
granted (10), and the declaration's own receipt says 15-已撤销. `answer` lets the simulator's
operator send any other step (改单, 实货放行…) for a declaration customs holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gateway.border import messages, store
from gateway.border.codes import BdrReturn, Form, status_name
from gateway.border.receipts import build
from gateway.codes import CHINA_TZ, EXPORT_RECEIVER_ID
from gateway.core.customs_sim.service import Answer, CustomsSim
from gateway.core.customs_sim.state import Declaration, Scheduled, held_declaration
from gateway.core.kinds import DocumentKind, Record
from gateway.errors import ConfigError, NotFound
from transports import wrap

#: where the simulator's operator keeps its reference data (JSON; defaults otherwise)
REFERENCE_ENV = "CUSTOMS_GATEWAY_BDR_SIM_REFERENCE"

#: customs' own states of a declaration it holds (sim_declarations.status, ≤ 10 characters)
HELD = {
    BdrReturn.RETURNED: "returned",
    BdrReturn.APPROVED: "approved",
    BdrReturn.DOC_RELEASED: "released",
    BdrReturn.GOODS_RELEASED: "goods_out",
    BdrReturn.PENDING_INSPECTION: "inspect",
    BdrReturn.GENERAL_TRADE: "general",
    BdrReturn.AMEND: "amend",
    BdrReturn.REVOKED: "revoked",
    BdrReturn.PENDING_PROCESSING: "pending",
}
REVOCABLE_HELD = frozenset({"approved", "released"})
#: how far a clean declaration goes by itself
STOP_AT = (BdrReturn.APPROVED, BdrReturn.DOC_RELEASED, BdrReturn.GOODS_RELEASED)


@dataclass(frozen=True)
class Vehicle:
    plate: str
    valid_to: date
    places: frozenset[str]


@dataclass(frozen=True)
class Reference:
    """The reference data customs holds for border trade."""

    #: district → the trade countries its port's border trade is with
    ports: Mapping[str, frozenset[str]]
    #: registered supervised places → their district
    places: Mapping[str, str]
    vehicles: Mapping[str, Vehicle]
    #: 商品分类表: goods codes residents may declare
    catalogue: frozenset[str]
    #: district → origins allowed (产制)
    origins: Mapping[str, frozenset[str]]
    #: goods codes customs inspects (05-待检查)
    inspect: frozenset[str] = frozenset()
    #: duty-free allowance per resident per declaration (yuan); ours, not in the manual
    allowance: Decimal = Decimal(8000)
    stop_at: str = BdrReturn.DOC_RELEASED.value
    extra: Mapping[str, Any] = field(default_factory=dict)


def default_reference() -> Reference:
    """The manual's examples: 8609 打洛 trades with 缅甸 (and 老挝), place 860901 registered,
    云K12345 registered and bound to it; 不丹/印度 refused as in the manual's return."""
    from gateway.border import samples

    far = date(2099, 12, 31)
    return Reference(
        ports={
            "8609": frozenset({"MMR", "LAO"}),
            "8606": frozenset({"MMR"}),
            "7208": frozenset({"VNM"}),
            "7209": frozenset({"VNM"}),
        },
        places={samples.PLACE_CODE: samples.DISTRICT},
        vehicles={
            samples.PLATE: Vehicle(samples.PLATE, far, frozenset({samples.PLACE_CODE})),
            "云K00001": Vehicle("云K00001", date(2020, 1, 1), frozenset({samples.PLACE_CODE})),
            "云K00002": Vehicle("云K00002", far, frozenset({"860902"})),
        },
        catalogue=frozenset(c["goodsCode"] for c in samples.CATALOGUE),
        origins={
            "8609": frozenset({"MMR", "LAO"}),
            "8606": frozenset({"MMR"}),
            "7208": frozenset({"VNM"}),
            "7209": frozenset({"VNM"}),
        },
    )


_reference: Reference | None = None


def reference() -> Reference:
    """The reference data in use: set by `use`, else the file `REFERENCE_ENV` names, else
    the defaults."""
    global _reference
    if _reference is None:
        path = os.environ.get(REFERENCE_ENV)
        _reference = load(Path(path)) if path else default_reference()
    return _reference


def use(ref: Reference | None) -> None:
    """Replace the reference data (the operator's file, a test's); None: back to defaults."""
    global _reference
    _reference = ref


def load(path: Path) -> Reference:
    """Reference data from a JSON file: {"ports": {district: [countries]}, "places": {code:
    district}, "vehicles": [{"plate", "validTo": "YYYY-MM-DD", "places": [...]}],
    "catalogue": [codes], "origins": {district: [countries]}, "inspect": [codes],
    "allowance": "8000", "stopAt": "11"}; a field left out keeps its default."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        base = default_reference()
        vehicles = {
            v["plate"]: Vehicle(
                v["plate"], date.fromisoformat(v["validTo"]), frozenset(v.get("places", []))
            )
            for v in data.get("vehicles", [])
        } or base.vehicles
        sets = lambda m: {k: frozenset(v) for k, v in m.items()}  # noqa: E731
        return replace(
            base,
            ports=sets(data["ports"]) if "ports" in data else base.ports,
            places=dict(data.get("places", base.places)),
            vehicles=vehicles,
            catalogue=frozenset(data.get("catalogue", base.catalogue)),
            origins=sets(data["origins"]) if "origins" in data else base.origins,
            inspect=frozenset(data.get("inspect", ())),
            allowance=Decimal(str(data.get("allowance", base.allowance))),
            stop_at=str(data.get("stopAt", base.stop_at)),
        )
    except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
        raise ConfigError(f"border simulator reference data {path}: {exc}") from exc


# --- the review --------------------------------------------------------------------------------


def review(ref: Reference, form: Form, values: Mapping[str, Any], today: date) -> list[str]:
    """Every reason customs returns the declaration for, in the manual's words (R-BDR-9)."""
    head = values.get("head", {})
    district, place = head.get("districtCode", ""), head.get("placeCode", "")
    reasons = []
    if head.get("tradeCountry") not in ref.ports.get(district, frozenset()):
        reasons.append("贸易国别非法")
    allowed_origins = ref.origins.get(district, frozenset())
    for n, line in enumerate(values.get("goods") or [], start=1):
        if line.get("origin") not in allowed_origins:
            reasons.append(f"商品序号{n}产制非法")
    registered = place in ref.places
    if not registered:
        reasons.append("监管作业场所未备案")
    for plate in _plates(form, values):
        reasons += _vehicle(ref, plate, place, registered, form, today)
    for n, line in enumerate(values.get("goods") or [], start=1):
        if line.get("goodsCode") not in ref.catalogue:
            reasons.append(f"商品序号{n}在商品分类表中不存在，不允许申报")
    return list(dict.fromkeys(reasons))  # each once, in order


def _plates(form: Form, values: Mapping[str, Any]) -> list[str]:
    plates = [values.get("head", {}).get("vehicleNo", "")]
    if form is Form.ENTRY:
        plates += [v.get("vehicleNo", "") for v in values.get("vehicles") or []]
    return [p for p in dict.fromkeys(plates) if p]


def _vehicle(
    ref: Reference, plate: str, place: str, registered: bool, form: Form, today: date
) -> list[str]:
    """Registered and in validity, and bound to the place (an import whose place customs does
    not know cannot have its binding checked: the manual's own words)."""
    vehicle = ref.vehicles.get(plate)
    found = []
    if vehicle is None or vehicle.valid_to < today:
        found.append(f"车辆{plate}未备案或不在有效期")
    if not registered and form is Form.IMPORT:
        found.append("进口时，无法查询到监管场所参数，无法校验车辆绑定记录")
    elif registered and vehicle is not None and place not in vehicle.places:
        found.append(f"车辆{plate}未绑定监管作业场所{place}")
    return found


def outcome(ref: Reference, values: Mapping[str, Any]) -> tuple[list[BdrReturn], str]:
    """A clean declaration's steps after storage, and the words of the last."""
    head = values.get("head", {})
    heads = max(1, len(values.get("delegates") or []))
    amount = _decimal(head.get("totalAmount"))
    if amount > ref.allowance * heads:
        words = f"总金额{amount}元超过边民互市免税额度{ref.allowance * heads}元，转普货报关"
        return [BdrReturn.GENERAL_TRADE], words
    inspect = [
        g.get("goodsCode") for g in values.get("goods") or [] if g.get("goodsCode") in ref.inspect
    ]
    if inspect:
        return [BdrReturn.PENDING_INSPECTION], f"商品{'、'.join(inspect)}待检查"
    steps = list(STOP_AT[: STOP_AT.index(BdrReturn(ref.stop_at)) + 1])
    return steps, status_name(_STATUS_OF[steps[-1]])


_STATUS_OF = {
    BdrReturn.APPROVED: "customs_approved",
    BdrReturn.DOC_RELEASED: "doc_released",
    BdrReturn.GOODS_RELEASED: "goods_released",
}


def _decimal(text: Any) -> Decimal:
    try:
        return Decimal(str(text))
    except (InvalidOperation, ValueError):
        return Decimal(0)


# --- the behaviours ----------------------------------------------------------------------------


def behaviours() -> dict[str, Callable[..., list[Any]]]:
    """How customs answers each border kind (the system's `sim_behaviours`)."""
    return {
        store.ENTRY_KIND: _declarations,
        store.IMPORT_KIND: _declarations,
        store.REVOKE_KIND: _revokes,
    }


def decl_no(form: Form, district: str, key: str, at: datetime) -> str:
    """申报单编号 as this simulator gives it: district + 5 (entry) / 9 (import) + YYMMDD +
    11/12 + 5 digits stable per record (the manual's examples 860952206021100002,
    860992205241200005)."""
    digit = "5" if form is Form.ENTRY else "9"
    seq = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**5
    day = at.astimezone(CHINA_TZ).strftime("%y%m%d")
    return f"{district}{digit}{day}{form.number_code}{seq:05d}"


def _declarations(
    sim: CustomsSim,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    _cop: str,
    sender: str,
    *_: Any,
) -> list[Answer]:
    now, answers = time.time(), []
    first, step = now + sim.sim.declaring_delay, 0.002
    later = now + max(sim.sim.result_delay, sim.sim.declaring_delay + step)
    ref = reference()
    for rec in records:
        values = messages.read(rec.element)
        form = Form(values["head"]["preEntryNo"][4:6])
        key = values["head"]["preEntryNo"]
        number = decl_no(
            form, values["head"].get("districtCode", "0000"), key, datetime.now(CHINA_TZ)
        )
        answers.append(_one(kind, key, first, BdrReturn.STORED, "海关入库成功", number))
        reasons = review(ref, form, values, datetime.now(CHINA_TZ).date())
        if reasons:
            _hold(session, kind.name, key, sender, HELD[BdrReturn.RETURNED])
            opinion = "；".join(reasons) + "；"
            answers.append(_one(kind, key, later, BdrReturn.RETURNED, opinion, number))
            continue
        steps, words = outcome(ref, values)
        for n, code in enumerate(steps):
            info = words if n == len(steps) - 1 else status_name(_STATUS_OF.get(code, ""))
            answers.append(_one(kind, key, later + n * step, code, info, number))
        _hold(session, kind.name, key, sender, HELD[steps[-1]])
    return answers


def _revokes(
    sim: CustomsSim,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    _cop: str,
    sender: str,
    *_: Any,
) -> list[Answer]:
    now, answers = time.time(), []
    first = now + sim.sim.declaring_delay
    later = now + max(sim.sim.result_delay, sim.sim.declaring_delay + 0.002)
    for rec in records:
        head = messages.read(rec.element)["head"]
        key, original = head["preEntryNo"], head.get("origPreEntryNo", "")
        form = Form(original[4:6]) if original[4:6] in ("01", "03") else Form.ENTRY
        target_kind = store.KIND_OF_FORM[form]
        held = held_declaration(session, target_kind, original)
        if held is None or held.status not in REVOCABLE_HELD:
            state = held.status if held else "unknown"
            info = f"原申报单{head.get('origDeclNo', '')}状态({state})不允许撤销"
            answers.append(_one(kind, key, first, BdrReturn.STORE_FAILED, info))
            continue
        answers.append(_one(kind, key, first, BdrReturn.STORED, "海关入库成功"))
        answers.append(_one(kind, key, later, BdrReturn.APPROVED, "撤销审核通过"))
        held.status = HELD[BdrReturn.REVOKED]
        message = "BDR102Message" if form is Form.ENTRY else "BDR104Message"
        body = build(
            message,
            [_entity(original, BdrReturn.REVOKED, f"已撤销: {head.get('reason', '')}")],
            later + 0.002,
        )
        answers.append(Answer(later + 0.002, message, body, "revoked"))
    return answers


def _entity(key: str, status: str, info: str, number: str = "") -> dict[str, str]:
    out = {"guid": messages.guid(), "preEntryNo": key}
    if number:
        out["declNo"] = number
    return {**out, "returnStatus": str(status), "returnInfo": info[:2000]}


def _one(
    kind: DocumentKind, key: str, due: float, status: str, info: str, number: str = ""
) -> Answer:
    body = build(kind.receipt_type, [_entity(key, status, info, number)], due)
    return Answer(due, kind.receipt_type, body, f"{kind.name} {status}")


def _hold(session: Session, kind: str, key: str, sender: str, status: str) -> Declaration:
    held = held_declaration(session, kind, key)
    if held is None:
        held = Declaration(kind=kind, business_key=key, sender_id=sender, versions=0)
        session.add(held)
    held.status, held.versions, held.last_cop_msg_id = status, held.versions + 1, ""
    held.sender_id = sender or held.sender_id
    return held


def answer(
    session: Session, pre_entry_no: str, code: BdrReturn, info: str = "", at: float | None = None
) -> str:
    """The simulator's operator sends customs' next step for a declaration it holds (改单,
    实货放行, 单证放行…); refused (NotFound) for one customs does not hold."""
    form = Form(pre_entry_no[4:6]) if pre_entry_no[4:6] in ("01", "03") else None
    kind = store.KIND_OF_FORM.get(form) if form else None
    held = held_declaration(session, kind, pre_entry_no) if kind else None
    if held is None or form is None:
        raise NotFound(f"no border declaration {pre_entry_no} at customs")
    due = time.time() if at is None else at
    message = "BDR102Message" if form is Form.ENTRY else "BDR104Message"
    body = build(
        message, [_entity(pre_entry_no, code, info or status_name(_CODE_STATUS.get(code, "")))], due
    )
    env = wrap(body, msg_type=message, sender_id=EXPORT_RECEIVER_ID, receiver_ids=(held.sender_id,))
    session.add(
        Scheduled(
            due=due,
            routing_key=held.sender_id,
            message_id=env.cop_msg_id,
            body=env.body,
            note=f"operator {code}",
        )
    )
    held.status = HELD.get(code, held.status)
    return env.cop_msg_id


_CODE_STATUS = {
    BdrReturn.AMEND: "amend_requested",
    BdrReturn.GOODS_RELEASED: "goods_released",
    BdrReturn.DOC_RELEASED: "doc_released",
    BdrReturn.APPROVED: "customs_approved",
    BdrReturn.PENDING_INSPECTION: "pending_inspection",
    BdrReturn.GENERAL_TRADE: "general_trade",
    BdrReturn.PENDING_PROCESSING: "pending_processing",
}
