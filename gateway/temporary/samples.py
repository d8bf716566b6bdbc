"""Temporary-goods messages for the demo, the tests and an ERP developer to copy.

`registration_message(sender, [Registration("EXPO-1")])` is a complete, valid TMP101 declaring
one exhibition; `omit`/`values` make the variants the tests need (a field left out, another
value). `change_message` and `deletion_message` build TMP103 and TMP105 for an approved one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from lxml import etree

from gateway.codes import CHINA_TZ
from gateway.core.parties import Party
from gateway.temporary import fields as form
from gateway.temporary.codes import TMP_NS


def _guid() -> str:
    return str(uuid.uuid4()).upper()


def form_values(opening: date | None = None) -> dict[str, str]:
    """A complete exhibition form (every field declare needs), opening in 30 days."""
    start = opening or (datetime.now(CHINA_TZ).date() + timedelta(days=30))
    return {
        "customsCode": "2900",
        "agentName": "",  # the sender's name, filled by the builder
        "exhibitionName": "2027中国（杭州）国际智能制造博览会",
        "regCustomsCode": "2900",
        "approvalUnit": "浙江省商务厅",
        "organizerTel": "0571-87001234",
        "approvalNo": "浙商务展批〔2026〕118号",
        "organizer": "浙江省国际贸易促进委员会",
        "organizerPrincipal": "陈立群",
        "undertaker": "杭州国际博览中心有限公司",
        "reviewPrincipal": "王晓燕",
        "openDate": start.strftime("%Y%m%d"),
        "closeDate": (start + timedelta(days=3)).strftime("%Y%m%d"),
        "venue": "杭州国际博览中心",
        "totalArea": "42000.00",
        "intlArea": "12500.50",
        "countryCount": "18",
        "overseasExhibitorCount": "260",
        "brokerName": "李明",
        "brokerTel": "13857100001",
        "note": "展品为机床及工业机器人样机",
    }


@dataclass(frozen=True)
class Registration:
    """One exhibition registration (TMP101 record); defaults make a valid declared one."""

    cop_no: str
    app_type: str = "1"
    app_status: str = "2"
    #: fields to leave out (to test what save and declare need)
    omit: frozenset[str] = frozenset()
    #: other values (or extra fields: the card fields a sender should not send)
    values: Mapping[str, str] = field(default_factory=dict)
    agent_code: str | None = None  # default: the sender


@dataclass(frozen=True)
class Change:
    """One change application (TMP103 record) of an approved registration."""

    cop_no: str
    seq_no: str = "1"
    exhibition_no: str = ""
    reason: str = "展期延长一天，闭幕日期顺延"
    app_type: str = "1"
    app_status: str = "2"
    omit: frozenset[str] = frozenset()
    values: Mapping[str, str] = field(default_factory=dict)
    agent_code: str | None = None


@dataclass(frozen=True)
class Deletion:
    """One deletion application (TMP105 record)."""

    cop_no: str
    exhibition_no: str = ""
    reason: str = "展会取消"
    app_type: str = "1"
    app_status: str = "2"
    omit: frozenset[str] = frozenset()
    agent_code: str | None = None


class _Builder:
    def __init__(self, root: str, sender: Party) -> None:
        self.root = etree.Element(f"{{{TMP_NS}}}{root}", nsmap={"tmp": TMP_NS})
        self.root.set("guid", _guid())
        self.root.set("version", "1.0")
        self.sender = sender

    def record(self, tag: str, values: Iterable[tuple[str, str]]) -> None:
        element = etree.SubElement(self.root, f"{{{TMP_NS}}}{tag}")
        for name, value in values:
            etree.SubElement(element, f"{{{TMP_NS}}}{name}").text = value

    def done(self) -> bytes:
        transfer = etree.SubElement(self.root, f"{{{TMP_NS}}}BaseTransfer")
        for name, value in (("copCode", self.sender.code), ("copName", self.sender.name),
                            ("dxpMode", "DXP"), ("dxpId", self.sender.dxp_id)):  # fmt: skip
            etree.SubElement(transfer, f"{{{TMP_NS}}}{name}").text = value
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _head(app_type: str, app_status: str) -> list[tuple[str, str]]:
    now = datetime.now(UTC).astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")
    return [("guid", _guid()), ("appType", app_type), ("appTime", now), ("appStatus", app_status)]


def _ordered(table: Sequence[form.Field], values: Mapping[str, str], omit: frozenset[str]
             ) -> list[tuple[str, str]]:  # fmt: skip
    return [(f.name, values[f.name]) for f in table if f.name in values and f.name not in omit]


def _agent(sender: Party, given: str | None) -> str:
    return sender.code if given is None else given


def _form(sender: Party, values: Mapping[str, str]) -> dict[str, str]:
    return {**form_values(), "agentName": sender.name, **values}


def registration_message(sender: Party, registrations: Sequence[Registration]) -> bytes:
    b = _Builder("TMP101Message", sender)
    for r in registrations:
        values = {"agentCode": _agent(sender, r.agent_code),
                  "copNo": r.cop_no,
                  **_form(sender, r.values)}  # fmt: skip
        table = (*form.KEY, *form.FORM)
        b.record("Exhibition", [*_head(r.app_type, r.app_status),
                                *_ordered(table, values, r.omit)])  # fmt: skip
    return b.done()


def change_message(sender: Party, changes: Sequence[Change]) -> bytes:
    b = _Builder("TMP103Message", sender)
    for c in changes:
        values = {"agentCode": _agent(sender, c.agent_code),
                  "copNo": c.cop_no,
                  "seqNo": c.seq_no, "exhibitionNo": c.exhibition_no,
                  "changeReason": c.reason, **_form(sender, c.values)}  # fmt: skip
        table = (*form.KEY, *form.CHANGE, *form.FORM)
        b.record("ExhibitionChange", [*_head(c.app_type, c.app_status),
                                      *_ordered(table, values, c.omit)])  # fmt: skip
    return b.done()


def deletion_message(sender: Party, deletions: Sequence[Deletion]) -> bytes:
    b = _Builder("TMP105Message", sender)
    for d in deletions:
        values = {"agentCode": _agent(sender, d.agent_code),
                  "copNo": d.cop_no,
                  "exhibitionNo": d.exhibition_no, "reason": d.reason}  # fmt: skip
        table = (*form.KEY, *form.DELETION)
        b.record("ExhibitionDeletion", [*_head(d.app_type, d.app_status),
                                        *_ordered(table, values, d.omit)])  # fmt: skip
    return b.done()


# --- loaned-exhibit lists (TMP107) -------------------------------------------------------------

#: the demo's declarations of an exhibition (`declarations.parse` reads this shape): two
#: declarations, three goods lines; `sample_declarations(number)` links them to an exhibition
_DECLARATIONS: tuple[tuple[str, tuple[dict[str, object], ...]], ...] = (
    ("290020261000000101", (
        {"itemNo": 1, "hsCode": "8457101000", "name": "立式加工中心", "model": "VMC-850",
         "qty": 10, "unit": "台", "qty1": 10, "unit1": "台", "qty2": 65000, "unit2": "千克",
         "price": 480000, "total": 4800000, "currency": "CNY", "origin": "DEU",
         "licences": "A"},
        {"itemNo": 2, "hsCode": "8479501000", "name": "工业机器人", "model": "KR 210 R2700",
         "qty": 4, "unit": "台", "qty1": 4, "unit1": "台", "price": 350000,
         "total": 1400000, "currency": "CNY", "origin": "DEU"},
    )),
    ("290020261000000102", (
        {"itemNo": 1, "hsCode": "9031499090", "name": "三坐标测量机", "model": "CONTURA G2",
         "qty": 2.5, "unit": "台", "qty1": 2.5, "unit1": "台", "price": 260000,
         "total": 650000, "currency": "CNY", "origin": "JPN"},
    )),
)  # fmt: skip


def sample_declarations(exhibition_no: str) -> dict[str, object]:
    """The demo's declarations linked to `exhibition_no`, as a tmp-declarations file holds
    them (units are customs' codes in real data; the demo writes them out)."""
    return {
        "declarations": [
            {"exhibitionNo": exhibition_no, "entryId": entry, "goods": [dict(g) for g in goods]}
            for entry, goods in _DECLARATIONS
        ]
    }


@dataclass(frozen=True)
class LoanGoods:
    """One goods line of a list: a declaration line and the quantity lent."""

    entry_id: str = "290020261000000101"
    item_no: str = "1"
    qty: str = "1"
    g_no: str | None = None


@dataclass(frozen=True)
class LoanList:
    """One loaned-exhibit list (TMP107 record); defaults make a valid declared one."""

    cop_no: str
    exhibition_no: str = ""
    goods: Sequence[LoanGoods] = (LoanGoods(),)
    app_type: str = "1"
    app_status: str = "2"
    omit: frozenset[str] = frozenset()
    values: Mapping[str, str] = field(default_factory=dict)
    agent_code: str | None = None


def loan_values(start: date | None = None) -> dict[str, str]:
    """A complete list head (every field declare needs), lending from `start` for 30 days."""
    day = start or (datetime.now(CHINA_TZ).date() + timedelta(days=31))
    return {
        "borrowerName": "浙江大学机械工程学院",
        "loanDate": day.strftime("%Y%m%d"),
        "loanDueDate": (day + timedelta(days=30)).strftime("%Y%m%d"),
        "borrowerTel": "0571-87951234",
        "brokerName": "李明",
        "brokerTel": "13857100001",
        "note": "展后借予高校做教学演示",
    }


def loan_list_message(sender: Party, loan: LoanList) -> bytes:
    """A TMP107 (one list a message)."""
    b = _Builder("TMP107Message", sender)
    values = {"agentCode": _agent(sender, loan.agent_code), "copNo": loan.cop_no,
              "exhibitionNo": loan.exhibition_no, "agentName": sender.name,
              **loan_values(), **loan.values}  # fmt: skip
    table = (*form.KEY, *form.LOAN)
    b.record("LoanList", [*_head(loan.app_type, loan.app_status),
                          *_ordered(table, values, loan.omit)])  # fmt: skip
    record = b.root[-1]
    for g in loan.goods:
        line = etree.SubElement(record, f"{{{TMP_NS}}}LoanGoods")
        for name, value in (("gNo", g.g_no), ("entryId", g.entry_id), ("itemNo", g.item_no),
                            ("loanQty", g.qty)):  # fmt: skip
            if value:
                etree.SubElement(line, f"{{{TMP_NS}}}{name}").text = value
    return b.done()


# --- review confirmations (TMP109) -------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmationGoods:
    """One goods line of a confirmation (货物信息), typed in."""

    hs_code: str = "8457101000"
    name: str = "立式加工中心"
    qty: str = "1"
    unit: str = "001"
    model: str = "VMC-850"
    entry_id: str = ""
    g_no: str | None = None


@dataclass(frozen=True)
class Confirmation:
    """One review confirmation (TMP109 record); defaults make a valid declared one of goods
    imported in 20 days for a fair and re-exported 3 months later."""

    cop_no: str
    exhibition_no: str = ""
    goods: Sequence[ConfirmationGoods] = (ConfirmationGoods(),)
    app_type: str = "1"
    app_status: str = "2"
    omit: frozenset[str] = frozenset()
    values: Mapping[str, str] = field(default_factory=dict)
    agent_code: str | None = None
    #: the attachments it declares: (file name, SHA-256 hex) of files uploaded after the save
    documents: Sequence[tuple[str, str]] = ()


def confirmation_values(start: date | None = None) -> dict[str, str]:
    """A complete confirmation head (every field declare needs), the goods crossing on
    `start` and going back 90 days later."""
    day = start or (datetime.now(CHINA_TZ).date() + timedelta(days=20))
    return {
        "customsCode": "2900",
        "ieFlag": "I",
        "ieDate": day.strftime("%Y%m%d"),
        "returnDate": (day + timedelta(days=90)).strftime("%Y%m%d"),
        "purpose": "展览会展出",
        "brokerName": "李明",
        "brokerTel": "13857100001",
        "note": "展后复运出境",
    }


def confirmation_message(sender: Party, confirmations: Sequence[Confirmation]) -> bytes:
    """A TMP109 of one or more confirmations."""
    b = _Builder("TMP109Message", sender)
    for c in confirmations:
        values = {"agentCode": _agent(sender, c.agent_code), "copNo": c.cop_no,
                  "agentName": sender.name, "exhibitionNo": c.exhibition_no,
                  **confirmation_values(), **c.values}  # fmt: skip
        values = {k: v for k, v in values.items() if v}
        table = (*form.KEY, *form.CONFIRMATION)
        b.record("Confirmation", [*_head(c.app_type, c.app_status),
                                  *_ordered(table, values, c.omit)])  # fmt: skip
        record = b.root[-1]
        for g in c.goods:
            line = etree.SubElement(record, f"{{{TMP_NS}}}ConfirmationGoods")
            for name, value in (("gNo", g.g_no), ("hsCode", g.hs_code), ("goodsName", g.name),
                                ("goodsModel", g.model), ("qty", g.qty), ("unit", g.unit),
                                ("entryId", g.entry_id)):  # fmt: skip
                if value:
                    etree.SubElement(line, f"{{{TMP_NS}}}{name}").text = value
        for file_name, digest in c.documents:
            ref = etree.SubElement(record, f"{{{TMP_NS}}}ConfirmationDocument")
            for name, value in (("fileName", file_name), ("sha256", digest)):
                if value:
                    etree.SubElement(ref, f"{{{TMP_NS}}}{name}").text = value
    return b.done()


@dataclass(frozen=True)
class Extension:
    """One extension (TMP111 record) of the confirmation customs numbered `confirm_no`;
    defaults make a valid declared one asking for `extend_date`."""

    cop_no: str
    confirm_no: str
    extend_date: str
    app_type: str = "1"
    app_status: str = "2"
    omit: frozenset[str] = frozenset()
    values: Mapping[str, str] = field(default_factory=dict)


def extension_message(sender: Party, extensions: Sequence[Extension]) -> bytes:
    """A TMP111 of one or more extensions."""
    b = _Builder("TMP111Message", sender)
    for e in extensions:
        values = {"agentCode": sender.code, "copNo": e.cop_no, "customsCode": "2900",
                  "agentName": sender.name, "confirmNo": e.confirm_no,
                  "extendDate": e.extend_date, "approvalNo": "1122-34",
                  "reason": "展期延长，展品需继续展出", **e.values}  # fmt: skip
        values = {k: v for k, v in values.items() if v}
        table = (*form.KEY, *form.EXTENSION)
        b.record("Extension", [*_head(e.app_type, e.app_status),
                               *_ordered(table, values, e.omit)])  # fmt: skip
    return b.done()
