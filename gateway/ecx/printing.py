"""Printing an e-commerce export record (打印, Alt+P; seed 004 §3 keyboard; coverage.md 004
row 5): "print the declaration data" of whatever the entry screen shows.

Any record of the export set prints: its head fields in the standard's order under the
names the screens give them (电商平台代码, 物流运单编号…), its lines in a ruled table, the
numbers customs gave and the state the gateway holds. The manual gives no layout, so the
page is the screen's record laid out as a form (`gateway.core.printing`). The values are
what the enterprise last sent (the latest version's original): a printed list is the data
declared, not a customs document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from lxml import etree
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.core import printing, records
from gateway.core.enterprises import Caller
from gateway.core.kinds import DocumentKind
from gateway.core.models import Document
from gateway.core.queries import get_document
from gateway.core.status import Status, status_of
from gateway.ecx.status import EcxStatus
from gateway.errors import NotFound

#: the CEB fields under the names the entry screens give them
LABELS = {
    "customsCode": "申报地海关代码", "ebpCode": "电商平台代码", "ebpName": "电商平台名称",
    "ebcCode": "电商企业代码", "ebcName": "电商企业名称", "orderNo": "订单编号",
    "logisticsCode": "物流企业代码", "logisticsName": "物流企业名称",
    "logisticsNo": "物流运单编号", "copNo": "企业内部编号", "preNo": "预录入编号",
    "invtNo": "清单编号", "ieFlag": "出口标记", "portCode": "出口口岸代码",
    "ieDate": "出口日期", "statisticsFlag": "申报业务类型", "agentCode": "申报企业代码",
    "agentName": "申报企业名称", "ownerCode": "生产销售单位代码",
    "ownerName": "生产销售单位名称", "tradeMode": "贸易方式", "trafMode": "运输方式",
    "trafName": "运输工具名称", "voyageNo": "航班航次号", "billNo": "提运单号",
    "totalPackageNo": "总包号", "loctNo": "监管场所代码", "licenseNo": "许可证号",
    "country": "运抵国（地区）", "POD": "指运港代码", "freight": "运费",
    "fCurrency": "运费币制", "fFlag": "运费标志", "insuredFee": "保费",
    "iCurrency": "保费币制", "iFlag": "保费标志", "wrapType": "包装种类代码",
    "packNo": "件数", "grossWeight": "毛重（千克）", "netWeight": "净重（千克）",
    "note": "备注", "orderType": "订单类型", "goodsValue": "商品价格",
    "currency": "币制", "buyerRegNo": "订购人注册号", "buyerName": "订购人姓名",
    "payCode": "支付企业代码", "payName": "支付企业名称", "payTransactionId": "支付交易编号",
    "operatorCode": "申报企业代码", "operatorName": "申报企业名称", "msgSeqNo": "报文序号",
    "weight": "毛重（千克）", "totalPackageCount": "总件数", "arrivalDate": "运抵日期",
    "leaveDate": "离境日期", "sumNo": "汇总申请编号", "coElNo": "企业内部编号",
    "consignee": "收货人", "consigneeTelephone": "收货人电话", "consigneeAddress": "收货地址",
    "payNo": "支付编号", "amount": "金额",
}  # fmt: skip
#: envelope fields that are not declaration data
HIDDEN = frozenset({"guid", "appType", "appTime", "appStatus"})
#: a line's columns: (element, heading, width mm; 0 = the rest of the line)
LINE_COLUMNS = (
    ("gnum", "序号", 12), ("itemNo", "企业商品货号", 28), ("gcode", "商品编码", 24),
    ("gname", "商品名称", 0), ("itemName", "企业商品名称", 30), ("gmodel", "规格型号", 32),
    ("qty", "申报数量", 18), ("unit", "计量单位", 16), ("price", "单价", 20),
    ("totalPrice", "总价", 22), ("currency", "币制", 12), ("country", "目的国", 14),
)  # fmt: skip
STATUS_NAMES = {
    Status.SAVED: "暂存", Status.PENDING_SIGN: "待签名", Status.SENT: "已发送",
    Status.SEND_FAILED: "发往海关失败", Status.RETURNED: "退单", Status.STORED: "入库成功",
    Status.STORE_FAILED: "海关入库失败", Status.CONCLUDED: "审结", Status.INSPECTION: "查验",
    Status.RELEASED: "放行", Status.CLOSED: "结关", EcxStatus.REVOKED: "已撤销",
    EcxStatus.FINALISED: "已结案",
}  # fmt: skip
RETURNED_NUMBERS = (("preNo", "预录入编号（海关）"), ("invtNo", "清单编号"))


def render(session: Session, caller: Caller, doc_id: int, at: datetime) -> bytes:
    """The PDF of the caller's export record `doc_id` (another's, or another system's: 404)."""
    doc = get_document(session, caller, doc_id)
    kind = records.kind_of(doc)
    if not kind.message_type.startswith("CEB"):
        raise NotFound(f"no export record {doc_id}")
    element = records.latest_element(session, doc)
    head = kind.record(element).fields
    values = {**{k: v for k, v in head.items() if k not in HIDDEN}, **_gateway_values(doc)}
    rows, columns = _lines(element, kind)
    return printing.build(_template(kind, head, columns), values, rows, at)


def _gateway_values(doc: Document) -> dict[str, str]:
    status = status_of(doc.status)
    numbers = {f"_{k}": v for k, v in (doc.customs_numbers or {}).items()}
    return {"_pre_no": doc.pre_no or "", "_status": STATUS_NAMES.get(status, doc.status), **numbers}


def _template(
    kind: DocumentKind, head: Mapping[str, str], columns: tuple[tuple[str, float], ...]
) -> printing.Template:
    pairs = [("电子口岸预录入编号", "_pre_no"), ("状态", "_status")]
    pairs += [(label, f"_{key}") for key, label in RETURNED_NUMBERS]
    pairs += [(LABELS.get(k, k), k) for k in head if k not in HIDDEN]
    title = (kind.title or kind.name).split("(")[-1].rstrip(")") or kind.name
    closing = ("本页为申报数据打印件，不作为海关单证。",)
    return printing.Template(
        "record", title, tuple(pairs), bool(columns), closing, columns, number_key="_pre_no"
    )


def _lines(
    element: etree._Element, kind: DocumentKind
) -> tuple[list[list[str]], tuple[tuple[str, float], ...]]:
    lines = [c for c in element if len(c) and xmlsafe.local_name(c) != (kind.head_tag or "")]
    found = [{xmlsafe.local_name(f): (f.text or "").strip() for f in line} for line in lines]
    present = [c for c in LINE_COLUMNS if any(c[0] in line for line in found)]
    rows = [[line.get(name, "") for name, _, _ in present] for line in found]
    return rows, tuple((heading, width) for _, heading, width in present)
