"""Wire codes of the appointment messages: enums whose values are the codes (README)."""

from __future__ import annotations

from enum import StrEnum

from gateway.codes import CHINA_TZ
from gateway.core.status import Status

#: the gateway's own namespace: no public standard exists for appointment messages
APT_NS = "urn:customs-gateway:apt:1"

#: appointment times, appTime and declaration dates are Beijing time, like every CEB time
__all__ = ["APT_NS", "CHINA_TZ"]


class IeFlag(StrEnum):
    IMPORT = "I"
    EXPORT = "E"


class CreditClass(StrEnum):
    """Customs credit classes (R-APT-2). Dishonest (失信) is a separate flag."""

    ADVANCED = "advanced"  # 高级认证企业
    GENERAL_CERTIFIED = "general_certified"  # 一般认证企业
    GENERAL = "general"  # 一般信用企业

    @property
    def is_advanced(self) -> bool:
        return self is CreditClass.ADVANCED


class AptReturn(StrEnum):
    """returnStatus of APT102 (AppointmentReturn): every change of the appointment."""

    ACCEPTED = "1"  # 已受理
    BOOKED = "2"  # 预约成功 (审批通过), aptNo assigned
    CANCELLED = "3"  # 已取消
    CLEARED = "4"  # 通关完成, numbers fed back
    CLEARED_NO_FEEDBACK = "5"  # I-通关完成未反馈
    OVERDUE = "6"  # 逾期未反馈 (违约)
    EXPLAINED = "7"  # 情况说明已接收
    RETURNED = "100"  # 退单, returnInfo says why


class AptStatus(StrEnum):
    """An appointment's own statuses, beyond the core's (registered by `system.SYSTEM`):
    from APT102 receipts and the deadline job (R-APT-9)."""

    ACCEPTED = "accepted"  # 已受理
    BOOKED = "booked"  # 预约成功 / 审批通过, with the application number (aptNo)
    CANCELLED = "cancelled"  # 已取消 (R-APT-7)
    CLEARED = "cleared"  # 通关完成, declaration numbers fed back (R-APT-6)
    CLEARED_NO_FEEDBACK = "cleared_no_feedback"  # I-通关完成未反馈: blocks (R-APT-3)
    OVERDUE = "overdue"  # no feedback 5 days after the appointment time: blocks (R-APT-9)
    EXPLAINED = "explained"  # 情况说明 accepted by customs (R-APT-8)


APPOINTMENT_STATUSES: dict[str, StrEnum] = {
    AptReturn.ACCEPTED: AptStatus.ACCEPTED,
    AptReturn.BOOKED: AptStatus.BOOKED,
    AptReturn.CANCELLED: AptStatus.CANCELLED,
    AptReturn.CLEARED: AptStatus.CLEARED,
    AptReturn.CLEARED_NO_FEEDBACK: AptStatus.CLEARED_NO_FEEDBACK,
    AptReturn.OVERDUE: AptStatus.OVERDUE,
    AptReturn.EXPLAINED: AptStatus.EXPLAINED,
    AptReturn.RETURNED: Status.RETURNED,
}


class OpReturn(StrEnum):
    """returnStatus of APT104/106/108 (cancel, feedback, explanation receipts)."""

    ACCEPTED = "120"  # 接收成功: the operation took effect (see the APT102 that follows)
    RETURNED = "100"  # 退单, returnInfo says why
    # negative codes: refused by a rule at customs (returnInfo names it)


OPERATION_STATUSES: dict[str, StrEnum] = {
    OpReturn.ACCEPTED: Status.STORED,
    OpReturn.RETURNED: Status.RETURNED,
}

#: the states in which an enterprise may not book (R-APT-3): customs' I-通关完成未反馈 only.
#: The gateway's own overdue mark (R-APT-9) warns and invites the explanation but does not
#: block: the manual blocks on customs' state alone ("存在 I-通关完成未反馈状态，不允许新增
#: 预约操作", seed 003 §4.1), and where the digest and the manual disagree the manual wins
BLOCKING = frozenset({AptStatus.CLEARED_NO_FEEDBACK})
#: approved, no numbers fed back: feedback and explanation are possible (R-APT-6, R-APT-8)
APPROVED_OPEN = frozenset({AptStatus.BOOKED, AptStatus.CLEARED_NO_FEEDBACK, AptStatus.OVERDUE})
#: cancel is possible (R-APT-7)
CANCELLABLE = frozenset({AptStatus.ACCEPTED, AptStatus.BOOKED})
#: modify (appType 2) and delete (3): manual 003 §4.2 lets only 暂存 records be modified and
#: declared again ("可以修改“暂存”状态的信息后重新申报") and deleted ("勾选…“暂存”状态的信息
#: …删除"). A declaration the gateway could not sign or send never reached customs: it is
#: still the saved draft the manual speaks of. Returned (退单) and the e-port's and customs'
#: failures are not (narrower than R-COM-5; a new request takes a new copNo).
MODIFIABLE = frozenset({Status.SAVED, Status.SIGNING_FAILED, Status.SEND_FAILED})

#: transport modes (运输方式, customs code list)
TRAF_MODES: dict[str, str] = {
    "0": "非保税区", "1": "监管仓库", "2": "水路运输", "3": "铁路运输", "4": "公路运输",
    "5": "航空运输", "6": "邮件运输", "7": "保税区", "8": "保税仓库", "9": "其它运输",
}  # fmt: skip
