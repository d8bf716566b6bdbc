"""The exhibition registration form (展览会备案, seed 002 §1.1), one row per field.

One table serves the rules (what save and declare need, R-COM-2), the record view and
`docs/temporary-messages.md`. The XSD (`schemas/xsd/tmp_common.xsd`) declares the same
elements in the same order; `tests/test_temporary_messages.py` keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Need(StrEnum):
    """When a field must be filled (the manual: `*` on yellow = save, yellow = declare)."""

    SAVE = "save"  # 暂存 needs it (and so does 申报)
    DECLARE = "declare"  # 申报 needs it
    OPTIONAL = "optional"
    CARD = "card"  # filled from the enterprise's registration / IC card (R-TMP-1)


@dataclass(frozen=True)
class Field:
    name: str
    term: str  # the manual's label
    english: str
    #: the XSD type: C..n (up to n characters), N12_2 (decimal, 12 digits, 2 after the
    #: point), Intn (a whole number of up to n digits); exact formats are rules (R-TMP-1)
    xsd: str
    need: Need


_F = Field
N = Need

#: the form's fields after the record's key (agentCode, copNo), in message order
FORM: tuple[Field, ...] = (
    _F("customsCode", "主管海关", "supervising customs (关区代码)", "C..4", N.SAVE),
    _F("agentName", "申报单位名称", "declaring unit's name", "C..100", N.DECLARE),
    _F("inputCode", "海关十位编码", "entry unit's 10-digit customs code", "C..10", N.CARD),
    _F("inputName", "单位 (录入单位)", "entry unit", "C..100", N.CARD),
    _F("operatorName", "操作员", "operator (IC card holder)", "C..50", N.CARD),
    _F("exhibitionName", "展览会名称", "exhibition name", "C..200", N.DECLARE),
    _F("regCustomsCode", "备案海关", "registration customs", "C..4", N.DECLARE),
    _F("approvalUnit", "批准单位", "approving authority", "C..100", N.DECLARE),
    _F("organizerTel", "主办方联系电话", "organiser's phone", "C..30", N.DECLARE),
    _F("approvalNo", "批文号", "approval document number", "C..50", N.DECLARE),
    _F("organizer", "主办单位", "organiser", "C..200", N.DECLARE),
    _F("organizerPrincipal", "主办单位负责人", "organiser's person in charge", "C..50", N.DECLARE),
    _F("undertaker", "承办单位", "undertaking organiser", "C..200", N.DECLARE),
    _F("reviewPrincipal", "资料审查负责人", "person reviewing the documents", "C..50", N.DECLARE),
    _F("openDate", "开幕日期", "opening date, YYYYMMDD", "C..8", N.DECLARE),
    _F("closeDate", "闭幕日期", "closing date, YYYYMMDD", "C..8", N.DECLARE),
    _F("venue", "展览场馆", "venue", "C..200", N.DECLARE),
    _F("totalArea", "展出总面积", "total exhibition area, m²", "N12_2", N.DECLARE),
    _F(
        "intlArea", "国际面积", "international (overseas exhibitors') area, m²", "N12_2", N.DECLARE
    ),  # fmt: skip
    _F(
        "countryCount", "参展国家(地区)数量", "participating countries (regions)", "Int4", N.DECLARE
    ),  # fmt: skip
    _F("overseasExhibitorCount", "境外展商数量", "overseas exhibitors", "Int6", N.DECLARE),
    _F("taiwanApproval", "台湾批文", "Taiwan approval document", "C..50", N.OPTIONAL),
    _F("brokerName", "报关员", "customs broker (the enterprise's list)", "C..50", N.DECLARE),
    _F("brokerTel", "报关员联系电话", "broker's phone", "C..30", N.DECLARE),
    _F("note", "备注", "remarks", "C..1000", N.OPTIONAL),
)

#: the record's key: the declaring unit and the enterprise's own number of the registration
KEY: tuple[Field, ...] = (
    _F("agentCode", "申报单位代码", "declaring unit's 10-digit customs code", "C..10", N.SAVE),
    _F(
        "copNo", "企业内部编号", "the enterprise's own number (not in the manual)", "C..30", N.SAVE
    ),  # fmt: skip
)

#: a change application (变更) adds these after the key
CHANGE: tuple[Field, ...] = (
    _F("seqNo", "变更序号", "the enterprise's number of this change, 1..999", "Int3", N.SAVE),
    _F("exhibitionNo", "展览会海关编号", "the exhibition's customs number", "C..20", N.DECLARE),
    _F("changeReason", "变更原因", "why it changes", "C..500", N.DECLARE),
)

#: a deletion application (备案删除) after the key
DELETION: tuple[Field, ...] = (
    _F("exhibitionNo", "展览会海关编号", "the exhibition's customs number", "C..20", N.DECLARE),
    _F("reason", "删除原因", "why (not in the manual)", "C..500", N.OPTIONAL),
    _F("note", "备注", "remarks", "C..1000", N.OPTIONAL),
)

#: fields the gateway fills from the enterprise, never from the sender (R-TMP-1)
CARD_FIELDS = tuple(f.name for f in FORM if f.need is Need.CARD)
TERMS: dict[str, str] = {f.name: f.term for f in (*KEY, *FORM, *CHANGE, *DELETION)}


def label(name: str) -> str:
    """`customsCode (主管海关)`: the field as a refusal names it."""
    term = TERMS.get(name)
    return f"{name} ({term})" if term else name


def required(fields: tuple[Field, ...], declare: bool) -> tuple[str, ...]:
    """The fields save (or declare) needs, in message order."""
    wanted = {Need.SAVE, Need.DECLARE} if declare else {Need.SAVE}
    return tuple(f.name for f in fields if f.need in wanted)


# --- the loaned-exhibit list (外借展品清单, seed 002 §1.3) -------------------------------------

#: the list's fields after its key (agentCode, copNo), in message order. 外借清单预录入号 and
#: 外借清单编号 are the system's and customs' (never sent); 展览会名称 and 主管海关 come from the
#: exhibition the list names, 填报日期 from the gateway.
LOAN: tuple[Field, ...] = (
    _F("exhibitionNo", "展览会编号", "the approved exhibition's customs number", "C..20", N.SAVE),
    _F("agentName", "申报单位名称", "declaring unit's name", "C..100", N.DECLARE),
    _F("inputCode", "海关十位编码", "entry unit's 10-digit customs code", "C..10", N.CARD),
    _F("inputName", "单位 (录入单位)", "entry unit", "C..100", N.CARD),
    _F("operatorName", "操作人员", "operator (IC card holder)", "C..50", N.CARD),
    _F("borrowerName", "外借单位名称", "the borrower", "C..200", N.DECLARE),
    _F("loanDate", "外借日期", "loan date, YYYYMMDD", "C..8", N.DECLARE),
    _F("loanDueDate", "外借期限", "due back by, YYYYMMDD", "C..8", N.DECLARE),
    _F("borrowerTel", "外借联系电话", "the borrower's phone", "C..30", N.DECLARE),
    _F("brokerName", "报关员", "customs broker (the enterprise's list)", "C..50", N.DECLARE),
    _F("brokerTel", "报关员联系电话", "broker's phone", "C..30", N.DECLARE),
    _F("note", "备注", "remarks", "C..1000", N.OPTIONAL),
)

#: one goods line of a list (LoanGoods): a line of a customs declaration linked to the
#: exhibition and how much of it is lent; what the line is (HS code, name, model, units,
#: price, origin, licences) is customs' reference data, never sent. A line is picked whole
#: from the lookup, so even a save needs its three values (a list may be saved without any)
LOAN_GOODS: tuple[Field, ...] = (
    _F("gNo", "序号", "the line's number in the list (default: its position)", "Int3", N.OPTIONAL),
    _F("entryId", "报关单海关编号", "the customs declaration's number", "C..18", N.SAVE),
    _F("itemNo", "商品序号", "the goods item's number in that declaration", "Int3", N.SAVE),
    _F("loanQty", "外借数量", "quantity lent, in the declared unit", "N19_5", N.SAVE),
)

for _f in (*LOAN, *LOAN_GOODS):  # a shared name keeps the registration's label
    TERMS.setdefault(_f.name, _f.term)


# --- the review confirmation (暂时进出境审核确认, seed 002 §2.1) ----------------------------------

#: the confirmation's fields after its key (agentCode, copNo), in message order. The manual
#: shows the form only as a screenshot; these are the query's columns (§2.2) and what a
#: confirmation needs besides. 预录入编号 (G…), 确认申请书编号, 审核备注 and 结案日期 are the
#: gateway's and customs' (never sent); 填报日期 is the gateway's.
CONFIRMATION: tuple[Field, ...] = (
    _F("customsCode", "主管地海关", "supervising customs (关区代码)", "C..4", N.SAVE),
    _F("agentName", "申报单位名称", "declaring unit's name", "C..100", N.DECLARE),
    _F("inputCode", "海关十位编码", "entry unit's 10-digit customs code", "C..10", N.CARD),
    _F("inputName", "单位 (录入单位)", "entry unit", "C..100", N.CARD),
    _F("operatorName", "操作员", "operator (IC card holder)", "C..50", N.CARD),
    _F(
        "ieFlag",
        "进出境标志",
        "I: temporary import (re-exported), E: temporary export (re-imported)",
        "C1",
        N.DECLARE,
    ),  # fmt: skip
    _F(
        "exhibitionNo",
        "展览会编号",
        "the approved exhibition the goods are for, if any",
        "C..20",
        N.OPTIONAL,
    ),  # fmt: skip
    _F("ieDate", "进出境日期", "import/export date, YYYYMMDD", "C..8", N.DECLARE),
    # the manual's 复运出/进境日期 with a full-width slash: "/" separates a refusal's path
    _F(
        "returnDate",
        "复运出／进境日期",
        "re-export / re-import date, YYYYMMDD, after ieDate",
        "C..8",
        N.DECLARE,
    ),  # fmt: skip
    _F(
        "purpose",
        "暂时进出境用途",
        "why the goods cross temporarily (not in the manual)",
        "C..200",
        N.DECLARE,
    ),  # fmt: skip
    _F("brokerName", "报关员", "customs broker (the enterprise's list)", "C..50", N.DECLARE),
    _F("brokerTel", "报关员联系电话", "broker's phone", "C..30", N.DECLARE),
    _F("note", "备注", "remarks", "C..1000", N.OPTIONAL),
)

#: one goods line (货物信息, ConfirmationGoods): typed in after 【新增】, so a saved line is
#: whole: its name, HS code, quantity and unit are needed even to save it
CONFIRMATION_GOODS: tuple[Field, ...] = (
    _F("gNo", "序号", "the line's number (default: its position)", "Int3", N.OPTIONAL),
    _F("hsCode", "商品编码", "HS code, 10 digits", "C..10", N.SAVE),
    _F("goodsName", "商品名称", "goods name", "C..250", N.SAVE),
    _F("goodsModel", "规格型号", "specification / model", "C..255", N.OPTIONAL),
    _F("qty", "数量", "quantity", "N19_5", N.SAVE),
    _F("unit", "计量单位", "unit (customs' unit code)", "C..3", N.SAVE),
    _F(
        "entryId",
        "报关单海关编号",
        "the customs declaration it crossed on, if known",
        "C..18",
        N.OPTIONAL,
    ),  # fmt: skip
)

#: one attached document the declaration names (ConfirmationDocument): an attachment uploaded
#: to the saved confirmation (随附单证), by its SHA-256, so the signed declaration binds the
#: exact files declared; the files themselves stay with the gateway (docs/temporary.md)
CONFIRMATION_DOCUMENT: tuple[Field, ...] = (
    _F("fileName", "随附单证名称", "the attachment's file name", "C..200", N.OPTIONAL),
    _F("sha256", "随附单证摘要", "SHA-256 of the attachment, 64 hex digits", "C64", N.SAVE),
)

for _f in (*CONFIRMATION, *CONFIRMATION_GOODS, *CONFIRMATION_DOCUMENT):
    TERMS.setdefault(_f.name, _f.term)


# --- the extension (暂时进出境货物延期申报, seed 002 §2.3: its body is missing) ----------------

#: the extension's fields after its key (agentCode, copNo), in message order. The manual has
#: only the query's columns (§2.4); the rest is what a broker needs to ask for more time on an
#: approved confirmation (docs/temporary.md). 预录入延期编号 (Y…), 海关延期审核允许时间 and
#: 审核备注 are the gateway's and customs' (never sent); 填报日期 is the gateway's.
EXTENSION: tuple[Field, ...] = (
    _F("customsCode", "申请海关", "the customs applied to (关区代码)", "C..4", N.SAVE),
    _F("agentName", "申报单位名称", "declaring unit's name", "C..100", N.DECLARE),
    _F("inputCode", "海关十位编码", "entry unit's 10-digit customs code", "C..10", N.CARD),
    _F("inputName", "单位 (录入单位)", "entry unit", "C..100", N.CARD),
    _F("operatorName", "操作员", "operator (IC card holder)", "C..50", N.CARD),
    _F(
        "confirmNo",
        "确认申请书编号",
        "customs' number of the approved confirmation to extend",
        "C..20",
        N.DECLARE,
    ),  # fmt: skip
    _F("extendDate", "延期申请期限", "the date asked for, YYYYMMDD", "C..8", N.DECLARE),
    _F("approvalNo", "延期批文号", "extension approval document no.", "C..50", N.DECLARE),
    _F("reason", "延期原因", "why the goods need more time", "C..500", N.DECLARE),
    _F("note", "备注", "remarks", "C..1000", N.OPTIONAL),
)

for _f in EXTENSION:
    TERMS.setdefault(_f.name, _f.term)

#: TMP113 `ConfirmationAttachment` after the key: the attached file itself, sent by the
#: gateway when it is uploaded (every field needed: an attachment is never saved half)
ATTACHMENT: tuple[Field, ...] = (
    _F("sha256", "随附单证摘要", "SHA-256 of the file, 64 lowercase hex digits", "C64", N.SAVE),
    _F("fileName", "随附单证名称", "the file's name", "C..200", N.SAVE),
    _F("fileSize", "文件大小", "its size in bytes, at most 4 MB", "Int8", N.SAVE),
    _F("content", "随附单证", "the PDF, base64", "base64", N.SAVE),
)
for _f in ATTACHMENT:
    TERMS.setdefault(_f.name, _f.term)
