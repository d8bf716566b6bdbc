"""Wire codes and statuses of the border residents' trade declarations (BDR1xx).

No public message standard exists for 边民互市 (seeds 000 and 001 name none): the namespace
and the codes are the gateway's own, in the style of the CEB and temporary-goods messages.
Codes the manual shows are kept (业务模式 01/03, 申报类型 00/02, 运输工具类型 1/5, the
status codes 05/11, Y/N); the rest are ours and marked so. Enums hold wire codes (README).
"""

from __future__ import annotations

from enum import StrEnum

from gateway.core.status import MODIFIABLE, Status

#: the gateway's own namespace for the border-trade messages
BDR_NS = "urn:customs-gateway:bdr:1"


class Form(StrEnum):
    """Which declaration: the two digits after the year in a pre-entry number (manual §4.1
    `202201000000000665`, §5.1 `202203000000001123`)."""

    ENTRY = "01"  # 进境申报单
    IMPORT = "03"  # 进口申报单

    @property
    def form_title(self) -> str:
        return "进境申报单" if self is Form.ENTRY else "进口申报单"

    @property
    def number_code(self) -> str:
        """The two digits after the date in customs' number (…11… entry, …12… import)."""
        return "11" if self is Form.ENTRY else "12"


class DeclType(StrEnum):
    """申报类型 (manual §5.1: 00-申请, 02-撤销; 01-变更 inferred)."""

    APPLICATION = "00"  # 申请
    CHANGE = "01"  # 变更
    REVOKE = "02"  # 撤销


DECL_TYPE_NAMES = {DeclType.APPLICATION: "申请", DeclType.CHANGE: "变更", DeclType.REVOKE: "撤销"}


class BusinessMode(StrEnum):
    """业务模式 (manual §4.1: 01 and 03 shown, 02 inferred)."""

    IN_ZONE = "01"  # 区内交易
    LANDED_PROCESSING = "02"  # 落地加工
    ORIGINAL_REMOVAL = "03"  # 原装提离


MODE_NAMES = {
    BusinessMode.IN_ZONE: "区内交易",
    BusinessMode.LANDED_PROCESSING: "落地加工",
    BusinessMode.ORIGINAL_REMOVAL: "原装提离",
}


class TransportMode(StrEnum):
    """运输方式: the four the terminal offers (manual §4.1), with customs' transport codes."""

    WATER = "2"  # 水路运输
    RAIL = "3"  # 铁路运输
    ROAD = "4"  # 公路运输
    OTHER = "9"  # 其他运输


TRANSPORT_NAMES = {
    TransportMode.WATER: "水路运输",
    TransportMode.RAIL: "铁路运输",
    TransportMode.ROAD: "公路运输",
    TransportMode.OTHER: "其他",
}


class VehicleType(StrEnum):
    """运输工具类型: the manual's list shows `1-三轮车` and `5-其他`; the codes between are
    not in it, so the gateway takes only these two."""

    TRICYCLE = "1"  # 三轮车
    OTHER = "5"  # 其他


class GoodsFlow(StrEnum):
    """商品流向 (manual §5.1; codes ours)."""

    PERSONAL_USE = "1"  # 生活自用
    RESALE = "2"  # 二次销售


class DeclarantType(StrEnum):
    """申报人类别: the identity picked at the terminal (identity.Role's values)."""

    RESIDENT = "1"  # 边民
    GROUP_REPRESENTATIVE = "2"  # 互助组代表
    COOPERATIVE_REPRESENTATIVE = "3"  # 合作社代表


#: 贸易国别 and 原产国: the neighbours of the border ports the manual's examples name, and the
#: countries its refused examples name (ISO 3166 alpha-3; customs' full list is reference data)
COUNTRIES: dict[str, str] = {
    "MMR": "缅甸",
    "VNM": "越南",
    "LAO": "老挝",
    "BTN": "不丹",
    "IND": "印度",
    "BGD": "孟加拉国",
    "NPL": "尼泊尔",
    "MNG": "蒙古",
    "RUS": "俄罗斯",
    "KAZ": "哈萨克斯坦",
    "CHN": "中国",
}

#: 币制: amounts are 总金额(元), in yuan
CURRENCY = "CNY"


class BdrReturn(StrEnum):
    """returnStatus of the BDR receipts (BDR102/104/106). 05 and 11 are the manual's (§7:
    05-待检查, 11-单证放行); the pages' Y-海关入库成功 and N-海关入库失败 travel as 1 and a
    negative code (receipt status codes are numbers, as every receipt the gateway reads);
    the others are ours."""

    STORED = "1"  # Y-海关入库成功
    STORE_FAILED = "-1"  # N-海关入库失败: returnInfo names why
    RETURNED = "00"  # 退单: returnInfo is the 监管审核意见, reasons joined by "；"
    PENDING_PROCESSING = "01"  # 待处理
    PENDING_INSPECTION = "05"  # 待检查
    APPROVED = "10"  # 审核通过
    DOC_RELEASED = "11"  # 单证放行
    GOODS_RELEASED = "12"  # 实货放行
    GENERAL_TRADE = "13"  # 转普货报关
    AMEND = "14"  # 改单: customs asks for a change
    REVOKED = "15"  # 已撤销: customs granted a revoke (sent for the revoked declaration)


class BdrStatus(StrEnum):
    """Statuses of border declarations beyond the core's (registered by `system.SYSTEM`).

    暂存 is the core's `saved`; 已申报 its `pending_sign`/`signed`; D2-发往海关成功 `sent`;
    发往海关失败 `send_failed` (and the gateway's other failures before customs);
    Y-海关入库成功 `stored`, N-海关入库失败 `store_failed`, 退单 `returned`."""

    PENDING_AUTH = "pending_auth"  # 待认证: a representative's, waiting for the residents
    #: ours: not every delegating resident authenticated within `auth_timeout` (R-BDR-7)
    AUTH_TIMEOUT = "auth_timeout"  # 认证超时
    PENDING_PROCESSING = "pending_processing"  # 待处理
    PENDING_INSPECTION = "pending_inspection"  # 05-待检查
    CUSTOMS_APPROVED = "customs_approved"  # 审核通过
    AMEND = "amend_requested"  # 改单
    DOC_RELEASED = "doc_released"  # 11-单证放行
    GOODS_RELEASED = "goods_released"  # 实货放行
    GENERAL_TRADE = "general_trade"  # 转普货报关
    REVOKE_GRANTED = "revoke_granted"  # 已撤销: customs granted its revoke record


RECEIPT_STATUSES: dict[str, StrEnum] = {
    BdrReturn.STORED: Status.STORED,
    BdrReturn.STORE_FAILED: Status.STORE_FAILED,
    BdrReturn.RETURNED: Status.RETURNED,
    BdrReturn.PENDING_PROCESSING: BdrStatus.PENDING_PROCESSING,
    BdrReturn.PENDING_INSPECTION: BdrStatus.PENDING_INSPECTION,
    BdrReturn.APPROVED: BdrStatus.CUSTOMS_APPROVED,
    BdrReturn.DOC_RELEASED: BdrStatus.DOC_RELEASED,
    BdrReturn.GOODS_RELEASED: BdrStatus.GOODS_RELEASED,
    BdrReturn.GENERAL_TRADE: BdrStatus.GENERAL_TRADE,
    BdrReturn.AMEND: BdrStatus.AMEND,
    BdrReturn.REVOKED: BdrStatus.REVOKE_GRANTED,
}

#: R-COM-5 / manual §4.4 修改, 删除: 暂存, 退单, 发往海关失败, 海关入库失败 (the core's set,
#: the gateway's own failures before customs counting as 发往海关失败), and 认证超时 (ours:
#: nothing reached customs, the resident fixes and declares again)
EDITABLE: frozenset[StrEnum] = frozenset(MODIFIABLE) | {BdrStatus.AUTH_TIMEOUT}
#: R-BDR-8 变更: 改单, 单证放行, 实货放行
CHANGEABLE: frozenset[StrEnum] = frozenset(
    {BdrStatus.AMEND, BdrStatus.DOC_RELEASED, BdrStatus.GOODS_RELEASED}
)
#: R-BDR-8 撤销: 审核通过, 单证放行
REVOCABLE: frozenset[StrEnum] = frozenset({BdrStatus.CUSTOMS_APPROVED, BdrStatus.DOC_RELEASED})

#: status names as the terminal's pages show them (状态 column), code first where it has one
STATUS_NAMES: dict[str, str] = {
    Status.SAVED: "暂存",
    Status.PENDING_SIGN: "已申报",
    Status.SIGNED: "已申报",
    Status.SENT: "D2-发往海关成功",
    Status.SIGNING_FAILED: "发往海关失败",
    Status.SEND_FAILED: "发往海关失败",
    Status.CUSTOMS_SEND_FAILED: "发往海关失败",
    Status.FORMAT_FAILED: "发往海关失败",
    Status.SECURITY_FAILED: "发往海关失败",
    Status.STORE_FAILED: "N-海关入库失败",
    Status.STORED: "Y-海关入库成功",
    Status.RETURNED: "00-退单",
    Status.DELETED: "已删除",
    BdrStatus.PENDING_AUTH: "待认证",
    BdrStatus.AUTH_TIMEOUT: "认证超时",
    BdrStatus.PENDING_PROCESSING: "待处理",
    BdrStatus.PENDING_INSPECTION: "05-待检查",
    BdrStatus.CUSTOMS_APPROVED: "审核通过",
    BdrStatus.AMEND: "改单",
    BdrStatus.DOC_RELEASED: "11-单证放行",
    BdrStatus.GOODS_RELEASED: "实货放行",
    BdrStatus.GENERAL_TRADE: "转普货报关",
    BdrStatus.REVOKE_GRANTED: "已撤销",
}

#: customs districts (关区代码) the gateway and the simulated customs know; the manual's
#: examples are 8609-打洛海关. A sample list: customs' full list is reference data.
DISTRICTS: dict[str, str] = {
    "8609": "打洛海关",
    "8601": "昆明海关",
    "8606": "瑞丽海关",
    "7208": "东兴海关",
    "7209": "凭祥海关",
}


def status_name(value: str) -> str:
    return STATUS_NAMES.get(value, value)
