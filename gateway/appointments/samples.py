"""Appointment messages for the demo, the tests and an ERP developer to copy (README)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from gateway.appointments.codes import APT_NS, CHINA_TZ
from gateway.core.parties import Party


def _guid() -> str:
    return str(uuid.uuid4()).upper()


def _time(at: datetime) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True)
class Request:
    """One appointment request; defaults make a valid one for the sample reference data."""

    cop_no: str
    start: datetime
    consignee: str = "1101919107"
    decl_port: str = "2233"
    ie_port: str = "2233"
    ie_flag: str = "I"
    traf_mode: str = "5"
    uscc: str = "91330100MA2H0Z0Z01"
    ciq_code: str = "3300600001"
    reason: str = "鲜花空运到港，需夜间通关以保证时效"
    goods: Sequence[tuple[str, str]] = (("0603110000", "鲜的玫瑰"),)
    pdfs: Sequence[tuple[str, bytes]] = ()
    app_type: str = "1"
    app_status: str = "2"
    end: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def pdf(pages: int = 1, size: int = 0) -> bytes:
    """A small PDF with `pages` pages, padded to `size` bytes when given."""
    body = b"%PDF-1.4\n" + b"".join(
        b"%d 0 obj << /Type /Page >> endobj\n" % (n + 3) for n in range(pages)
    )
    body += b"1 0 obj << /Type /Pages /Count %d >> endobj\n%%%%EOF\n" % pages
    return body + b"%" + b" " * max(0, size - len(body) - 2) + b"\n" if size else body


class _Builder:
    def __init__(self, root: str, sender: Party) -> None:
        self.root = etree.Element(f"{{{APT_NS}}}{root}", nsmap={"apt": APT_NS})
        self.root.set("guid", _guid())
        self.root.set("version", "1.0")
        self.sender = sender

    def sub(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        el = etree.SubElement(parent, f"{{{APT_NS}}}{name}")
        if text is not None:
            el.text = text
        return el

    def fields(self, parent: etree._Element, pairs: Sequence[tuple[str, str | None]]) -> None:
        for name, value in pairs:
            if value is not None:
                self.sub(parent, name, value)

    def declaration(self, parent: etree._Element, app_type: str, app_status: str) -> None:
        now = datetime.now(CHINA_TZ)
        self.fields(
            parent,
            [("guid", _guid()), ("appType", app_type), ("appTime", _time(now)),
             ("appStatus", app_status)],
        )  # fmt: skip

    def ref(self, parent: etree._Element, cop_no: str, apt_no: str | None) -> None:
        self.fields(
            parent, [("declarantCode", self.sender.code), ("copNo", cop_no), ("aptNo", apt_no)]
        )

    def attach(self, parent: etree._Element, tag: str, files: Sequence[tuple[str, bytes]]) -> None:
        for name, data in files:
            el = self.sub(parent, tag)
            self.sub(el, "fileName", name)
            self.sub(el, "fileContent", base64.b64encode(data).decode("ascii"))

    def done(self) -> bytes:
        transfer = self.sub(self.root, "BaseTransfer")
        self.fields(
            transfer,
            [("copCode", self.sender.code), ("copName", self.sender.name), ("dxpMode", "DXP"),
             ("dxpId", self.sender.dxp_id)],
        )  # fmt: skip
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def request_message(sender: Party, requests: Sequence[Request]) -> bytes:
    """APT101Message with one Appointment per request."""
    b = _Builder("APT101Message", sender)
    for r in requests:
        apt = b.sub(b.root, "Appointment")
        head = b.sub(apt, "AppointmentHead")
        b.declaration(head, r.app_type, r.app_status)
        values = {
            "copNo": r.cop_no, "declarantCode": sender.code, "declarantUscc": r.uscc,
            "declarantCiqCode": r.ciq_code, "declarantName": sender.name,
            "consigneeCode": r.consignee, "contactName": "王晓梅", "contactMobile": "13905710001",
            "declPort": r.decl_port, "iePort": r.ie_port, "trafMode": r.traf_mode,
            "aptStartTime": _time(r.start), "aptEndTime": r.end, "reason": r.reason,
            "ieFlag": r.ie_flag, **r.extra,
        }  # fmt: skip
        b.fields(head, list(values.items()))
        for n, (hs, name) in enumerate(r.goods, start=1):
            line = b.sub(apt, "AppointmentList")
            b.fields(line, [("gnum", str(n)), ("hsCode", hs), ("goodsName", name)])
        b.attach(apt, "AppointmentAttachment", r.pdfs)
    return b.done()


def cancel_message(
    sender: Party, cop_no: str, *, reason: str | None = None, apt_no: str | None = None
) -> bytes:
    """取消预约: the manual asks no reason; one may be given (`reason`)."""
    b = _Builder("APT103Message", sender)
    rec = b.sub(b.root, "AptCancel")
    b.declaration(rec, "1", "2")
    b.ref(rec, cop_no, apt_no)
    if reason is not None:
        b.sub(rec, "reason", reason)
    return b.done()


def feedback_message(
    sender: Party, cop_no: str, entry_ids: Sequence[str], *, apt_no: str | None = None
) -> bytes:
    b = _Builder("APT105Message", sender)
    rec = b.sub(b.root, "AptFeedback")
    head = b.sub(rec, "AptFeedbackHead")
    b.declaration(head, "1", "2")
    b.ref(head, cop_no, apt_no)
    for n, entry in enumerate(entry_ids, start=1):
        line = b.sub(rec, "AptFeedbackList")
        b.fields(line, [("gnum", str(n)), ("entryId", entry)])
    return b.done()


def explanation_message(
    sender: Party,
    cop_no: str,
    *,
    content: str = "航班延误，货物次日在正常工作时间申报，未使用预约通关",
    pdfs: Sequence[tuple[str, bytes]] = (),
    apt_no: str | None = None,
) -> bytes:
    b = _Builder("APT107Message", sender)
    rec = b.sub(b.root, "AptExplanation")
    b.declaration(rec, "1", "2")
    b.ref(rec, cop_no, apt_no)
    b.sub(rec, "content", content)
    b.attach(rec, "AptAttachment", pdfs)
    return b.done()
