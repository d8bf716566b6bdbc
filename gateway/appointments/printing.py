"""The printed appointment application (打印, Alt+P; seed 003 §2.3) and its copy (复制, Alt+C).

The manual's buttons give no layout: the PDF is the application as the entry screen shows it
(预约通关申请单) — the head fields in the screen's order, the goods lines, the attachments'
names — from what the enterprise last sent, with the numbers and the state the gateway holds.
Printing needs a saved record (there is nothing to print before the first 暂存) and is
offered in every state, as the button is. A copy is a new draft saved from the record
(`gateway.core.records.copy_message`): every state allows it, as the manual's 复制 does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.appointments import queries, rules
from gateway.appointments.codes import TRAF_MODES, AptStatus
from gateway.appointments.models import Appointment, AptPort
from gateway.core import printing, records
from gateway.core.enterprises import Caller
from gateway.core.status import Status, status_of

TEMPLATE = printing.Template(
    "application", "预约通关申请单",
    (
        ("预录入编号", "pre_no"), ("预约通关申请编号", "aptNo"),
        ("企业内部编号", "copNo"), ("申请状态", "status_name"),
        ("申报单位海关编码", "declarantCode"), ("申报单位名称", "declarantName"),
        ("申报单位统一社会信用代码", "declarantUscc"), ("申报单位检验检疫编码", "declarantCiqCode"),
        ("收发货人海关编码", "consigneeCode"), ("收发货人名称", "consignee_name"),
        ("联系人姓名", "contactName"), ("联系人手机", "contactMobile"),
        ("预约申报口岸", "declPort"), ("预约进出口岸", "iePort"),
        ("运输方式", "trafMode"), ("进出口标识", "ieFlag"),
        ("预约通关开始时间", "start"), ("预约通关结束时间", "end"),
        ("申请时间", "applied_at"), ("预约通关事由", "reason"),
        ("随附补充材料", "attachments"),
    ),
    False,
    ("本申请单由申报单位打印留存，海关审批结果以预约通关申请回执为准。",
     "申报单位（盖章）：                    联系人（签字）：                    日期："),
    (("序号", 14), ("商品HS编码", 40), ("商品名称", 0)),
    number_key="pre_no",
)  # fmt: skip
IE_NAMES = {"I": "进口", "E": "出口"}
#: 申请状态 as the screens name them; another status prints as its code
STATUS_NAMES = {
    Status.SAVED: "暂存", Status.PENDING_SIGN: "待签名", Status.SIGNING_FAILED: "签名失败",
    Status.SIGNED: "已签名", Status.SENT: "已发送", Status.SEND_FAILED: "发往海关失败",
    Status.STORE_FAILED: "海关入库失败", Status.RETURNED: "退单",
    AptStatus.ACCEPTED: "已受理", AptStatus.BOOKED: "预约成功", AptStatus.CANCELLED: "已取消",
    AptStatus.CLEARED: "通关完成", AptStatus.CLEARED_NO_FEEDBACK: "通关完成未反馈",
    AptStatus.OVERDUE: "逾期未反馈", AptStatus.EXPLAINED: "情况说明已接收",
}  # fmt: skip


def render(session: Session, caller: Caller, doc_id: int, at: datetime) -> bytes:
    """The PDF of the caller's appointment `doc_id` (another's, or none: NotFound)."""
    doc = queries.own(session, caller, doc_id)
    element = records.latest_element(session, doc)
    head = dict(records.kind_of(doc).record(element).fields)
    apt = session.scalar(select(Appointment).where(rules.key_sql() == doc.business_key))
    view = queries.view(apt, doc) if apt is not None else {}
    values = {**head, **_values(session, doc, view, head), "attachments": _attachments(element)}
    return printing.build(TEMPLATE, values, _goods(element), at)


def _values(session: Session, doc: Any, view: dict[str, Any], head: dict[str, str]) -> dict:
    status = status_of(doc.status)
    return {
        "pre_no": doc.pre_no or "",
        "aptNo": (doc.customs_numbers or {}).get("aptNo", ""),
        "consignee_name": view.get("consignee_name") or "",
        "declPort": _port(session, head.get("declPort", "")),
        "iePort": _port(session, head.get("iePort", "")),
        "trafMode": _named(TRAF_MODES, head.get("trafMode", "")),
        "ieFlag": _named(IE_NAMES, head.get("ieFlag", "")),
        "start": _minute(view.get("start")),
        "end": _minute(view.get("end")),
        "applied_at": _minute(view.get("applied_at")),
        "status_name": STATUS_NAMES.get(status, status.value),
    }


def _port(session: Session, code: str) -> str:
    port = session.get(AptPort, code) if code else None
    return f"{port.name}（{code}）" if port is not None else code


def _named(names: dict[str, str], code: str) -> str:
    return f"{code}-{names[code]}" if code in names else code


def _minute(iso: str | None) -> str:
    """An ISO time (Beijing) as the screen shows it: 2026-12-05 20:00."""
    return iso[:16].replace("T", " ") if iso else ""


def _goods(element: etree._Element) -> list[list[str]]:
    rows = []
    for line in element:
        if xmlsafe.local_name(line) == "AppointmentList":
            fields = {xmlsafe.local_name(c): (c.text or "").strip() for c in line}
            rows.append([fields.get("gnum", ""), fields.get("hsCode", ""),
                         fields.get("goodsName", "")])  # fmt: skip
    return rows


def _attachments(element: etree._Element) -> str:
    names = []
    for item in element:
        if xmlsafe.local_name(item) == "AppointmentAttachment":
            name = next((c.text for c in item if xmlsafe.local_name(c) == "fileName"), "")
            names.append((name or "").strip())
    return "、".join(n for n in names if n) or "无"
