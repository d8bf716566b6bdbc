"""Building CEB701 summary applications (SummaryApply, ceb-messages.md) for the job.

One application covers one merge group (R-ECX-8). When a group has more lists than one
SummaryApply should carry (`max_lists_per_apply`), it is split into records that share the
copNo and count themselves with msgCount/msgSeqNo; up to `applies_per_message` records (at
most 100, the XSD) travel in one CEB701 message, which intake then checks, stores, and the
signing worker signs like any declaration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from gateway.codes import CEB_NS, CHINA_TZ, AppStatus, AppType
from gateway.core.config import SummaryConfig
from gateway.ecx.summary.grouping import Group
from receipts.build import new_guid

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class Sender:
    """The gateway enterprise that declares (BaseTransfer, R-COM-3)."""

    code: str
    name: str
    dxp_id: str


@dataclass(frozen=True)
class Part:
    """One SummaryApply record: its place in the application and its lists."""

    msg_seq_no: int
    invt_nos: Sequence[str]


def tag(name: str) -> str:
    return f"{{{CEB_NS}}}{name}"


def add_element(parent: etree._Element, name: str, fields: Sequence[tuple[str, object]]) -> None:
    """Append <ceb:name> with one child per field, in the order given (the schema order)."""
    element = etree.SubElement(parent, tag(name))
    for field, value in fields:
        etree.SubElement(element, tag(field)).text = str(value)


def build_apply(
    sender: Sender,
    group: Group,
    cop_no: str,
    msg_count: int,
    parts: Sequence[Part],
    settings: SummaryConfig,
    at: datetime,
) -> bytes:
    """A CEB701Message with one SummaryApply per part."""
    root = etree.Element(
        tag("CEB701Message"), {"guid": new_guid(), "version": "1.0"}, nsmap={"ceb": CEB_NS}
    )
    for part in parts:
        record = etree.SubElement(root, tag("SummaryApply"))
        add_element(record, "SummaryApplyHead", _head(group, cop_no, msg_count, part, settings, at))
        for invt_no in part.invt_nos:
            add_element(record, "SummaryApplyList", [("invtNo", invt_no)])
    transfer = [("copCode", sender.code), ("copName", sender.name), ("dxpMode", "DXP"),
                ("dxpId", sender.dxp_id)]  # fmt: skip
    add_element(root, "BaseTransfer", transfer)
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def _head(
    group: Group, cop_no: str, msg_count: int, part: Part, settings: SummaryConfig, at: datetime
) -> list[tuple[str, object]]:
    key = group.key
    # startTime/endTime are left out on purpose: with a period customs ignores the list.
    return [
        ("guid", new_guid()),
        ("appType", AppType.ADD.value),
        ("appTime", f"{at.astimezone(CHINA_TZ):%Y%m%d%H%M%S}"),
        ("appStatus", AppStatus.DECLARE.value),
        ("customsCode", key.customs_code),
        ("copNo", cop_no),
        ("agentCode", key.agent_code),
        ("agentName", group.agent_name),
        ("ebcCode", key.ebc_code),
        ("ebcName", group.ebc_name),
        # the declaring agent of the merged customs declaration is the lists' declaring agent
        ("declAgentCode", key.agent_code),
        ("declAgentName", group.agent_name),
        ("summaryFlag", settings.summary_flag),
        ("itemNameFlag", settings.item_name_flag),
        ("msgCount", msg_count),
        ("msgSeqNo", part.msg_seq_no),
    ]
