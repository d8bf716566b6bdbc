"""Codes of the resident registry and enrolment (R-BDR-2, R-BDR-3): their values are the codes
of the registry files and of the customs reference-data message (BRD201, `registry.xsd`);
`label` is what the officer's pages show (seed 001 §3.1)."""

from __future__ import annotations

from enum import StrEnum

from gateway.errors import InvalidInput


class Sex(StrEnum):
    MALE = "1"  # GB/T 2261.1, as the ID card has it
    FEMALE = "2"

    @property
    def label(self) -> str:
        return "男" if self is Sex.MALE else "女"


class ResidentStatus(StrEnum):
    """状态: only 正常 is seen in the manual; the others are inferred (a registration commerce
    suspended or cancelled) and block enrolment and login alike."""

    NORMAL = "1"  # 正常
    SUSPENDED = "2"  # 暂停 [inferred]
    CANCELLED = "3"  # 注销 [inferred]

    @property
    def label(self) -> str:
        return {"1": "正常", "2": "暂停", "3": "注销"}[self.value]


class BiometricFlag(StrEnum):
    """生物标识, set by enrolment from what was captured (R-BDR-3)."""

    BOTH = "3"  # 人脸指纹都有
    FINGER = "2"  # 没有人脸有指纹
    FACE = "1"  # 有人脸没有指纹 [inferred: not among the manual's values]
    NONE = "0"  # 都没有

    @property
    def label(self) -> str:
        return {
            "3": "人脸指纹都有",
            "2": "没有人脸有指纹",
            "1": "有人脸没有指纹",
            "0": "都没有",
        }[self.value]

    @classmethod
    def of(cls, face: bool, finger: bool) -> BiometricFlag:
        return {
            (True, True): cls.BOTH,
            (False, True): cls.FINGER,
            (True, False): cls.FACE,
            (False, False): cls.NONE,
        }[(face, finger)]


class Slot(StrEnum):
    """Where an enrolled template sits: two fingers and one face (R-BDR-3)."""

    FINGER1 = "finger1"
    FINGER2 = "finger2"
    FACE = "face"


ENABLED_LABEL = {True: "启用", False: "停用"}
SYNCED_LABEL = {True: "已同步海关", False: "未同步"}
#: 数据来源 of a registration commerce made through the service application
SOURCE_SERVICE_APP = "服务应用系统"


def parse_label(enum: type[StrEnum], text: str, field: str) -> StrEnum:
    """A code given by its value or by its label (files written by hand use either)."""
    for member in enum:
        if text in (member.value, getattr(member, "label", None), member.name.lower()):
            return member
    choices = ", ".join(f"{m.value} ({getattr(m, 'label', m.name)})" for m in enum)
    raise InvalidInput(f"{field}: {text!r} is none of {choices}")
