"""Wire codes and statuses of the temporary import/export goods messages (TMP1xx).

No public message standard exists for 暂时进出境货物 (seed 002 names none): the namespace and
the codes are the gateway's own, in the style of the CEB and appointment messages. Enums hold
wire codes as their values (README).
"""

from __future__ import annotations

from enum import StrEnum

from gateway.codes import CHINA_TZ
from gateway.core.status import MODIFIABLE, Status

#: the gateway's own namespace for the temporary-goods messages
TMP_NS = "urn:customs-gateway:tmp:1"

__all__ = ["CHINA_TZ", "TMP_NS"]


class TmpReturn(StrEnum):
    """returnStatus of every TMP receipt (TMP102/104/106). Negative codes: customs could not
    store the record (海关入库失败), returnInfo names the field and why."""

    STORED = "1"  # 海关入库成功: H2018 took the record in, review follows
    APPROVED = "2"  # 审核通过: an exhibition gets its customs number (exhibitionNo)
    NOT_APPROVED = "3"  # 审核不通过: returnInfo gives customs' reason
    WITHDRAWN = "4"  # 备案已删除: customs granted the deletion application (TMP102 only)
    CLOSED = "5"  # 结案: the goods went back, customs closed the confirmation (TMP110 only)


class TmpStatus(StrEnum):
    """Statuses of temporary-goods records beyond the core's (registered by `system.SYSTEM`).

    暂存 is the core's `saved`, 发往海关失败 its `send_failed` (and the gateway's other
    failures before customs), 海关入库失败 `store_failed`, 海关入库成功 `stored`."""

    APPROVED = "approved"  # 审核通过 / 已审核通过 / 审批通过
    NOT_APPROVED = "not_approved"  # 审核不通过: may be edited and declared again
    WITHDRAWN = "withdrawn"  # 备案删除 granted by customs: the registration is gone
    CASE_CLOSED = "case_closed"  # 结案: a confirmation whose goods went back (结案日期)
    #: R-TMP-7 (ours): an approved confirmation past its 复运出/进境日期, not closed; the
    #: deadline job's mark ("overdue" is the appointments' value, a value means one status)
    RETURN_OVERDUE = "return_overdue"


RECEIPT_STATUSES: dict[str, StrEnum] = {
    TmpReturn.STORED: Status.STORED,
    TmpReturn.APPROVED: TmpStatus.APPROVED,
    TmpReturn.NOT_APPROVED: TmpStatus.NOT_APPROVED,
    TmpReturn.WITHDRAWN: TmpStatus.WITHDRAWN,
}

#: a confirmation's receipts: the same codes, and 5 (结案) instead of 4 (no deletion)
CONFIRMATION_STATUSES: dict[str, StrEnum] = {
    **{code: status for code, status in RECEIPT_STATUSES.items() if code != TmpReturn.WITHDRAWN},
    TmpReturn.CLOSED: TmpStatus.CASE_CLOSED,
}

#: R-TMP-3 / R-COM-5 as seed 002 gives them: edit and declare again in 暂存, 发往海关失败,
#: 海关入库失败 and 审核不通过. The core's set minus 退单 (002 has no returned state), plus
#: not-approved; the gateway's own failures before customs count as 发往海关失败.
EDITABLE: frozenset[StrEnum] = frozenset(MODIFIABLE - {Status.RETURNED}) | {TmpStatus.NOT_APPROVED}

#: an application (change, deletion) on its way or at customs, not yet answered
OPEN: frozenset[StrEnum] = frozenset(
    {
        Status.PENDING_SIGN,
        Status.SIGNED,
        Status.SENT,
        Status.EPORT_SAVED,
        Status.DECLARING,
        Status.SENT_TO_CUSTOMS,
        Status.STORED,
    }
)

#: status names as the manual shows them (the query page's 数据状态 column)
STATUS_NAMES: dict[str, str] = {
    Status.SAVED: "暂存",
    # declared: signing and sending are the gateway's steps, the page knows only 已申报
    Status.PENDING_SIGN: "已申报",
    Status.SIGNED: "已申报",
    Status.SENT: "已申报",
    Status.SIGNING_FAILED: "发往海关失败",
    Status.SEND_FAILED: "发往海关失败",
    Status.CUSTOMS_SEND_FAILED: "发往海关失败",
    Status.FORMAT_FAILED: "发往海关失败",
    Status.SECURITY_FAILED: "发往海关失败",
    Status.STORE_FAILED: "海关入库失败",
    Status.STORED: "海关入库成功",
    TmpStatus.APPROVED: "审核通过",
    TmpStatus.NOT_APPROVED: "审核不通过",
    TmpStatus.WITHDRAWN: "备案已删除",
    TmpStatus.CASE_CLOSED: "结案",
    TmpStatus.RETURN_OVERDUE: "逾期未复运",  # not in the manual (R-TMP-7 is ours)
    Status.DELETED: "已删除",
}

#: customs districts (关区代码) the gateway and the simulated customs know, with the names
#: the manual's query examples use (北京关区, 京机场关). A sample list: customs' full code
#: list is reference data the manual does not give.
CUSTOMS: dict[str, str] = {
    "0100": "北京关区",
    "0101": "京机场关",
    "0200": "天津关区",
    "2200": "上海海关",
    "2300": "南京海关",
    "2900": "杭州关区",
    "3100": "宁波关区",
    "4200": "青岛海关",
    "5100": "广州海关",
    "5300": "深圳海关",
}
