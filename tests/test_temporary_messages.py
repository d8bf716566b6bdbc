"""The TMP messages: the XSD and the form table agree, samples pass their XSD, receipts
parse back, the registry knows the kinds, the documentation names every element, and the
simulated customs answers with realistic reasons."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree
from sqlalchemy.orm import Session

from gateway.core import registry
from gateway.core.customs_sim.state import SimBase
from gateway.core.db import Database
from gateway.temporary import fields as form
from gateway.temporary import kinds, receipts, sim
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpReturn
from receipts.parse import parse_receipt
from schemas import loader
from tests.temporary_fixtures import EBC

ROOT = Path(__file__).resolve().parents[1]
XS = "{http://www.w3.org/2001/XMLSchema}"


def _group(name: str) -> list[tuple[str, str]]:
    tree = etree.parse(str(ROOT / "schemas/xsd/tmp_common.xsd"))
    (group,) = [g for g in tree.getroot().iter(f"{XS}group") if g.get("name") == name]
    return [(e.get("name", ""), e.get("type", "")) for e in group.iter(f"{XS}element")]


def test_the_xsd_declares_the_form_table_in_order() -> None:
    assert _group("ExhibitionForm") == [(f.name, f"tmp:{f.xsd}") for f in form.FORM]
    assert _group("ExhibitionKey") == [(f.name, f"tmp:{f.xsd}") for f in form.KEY]
    assert _group("LoanListForm") == [(f.name, f"tmp:{f.xsd}") for f in form.LOAN]
    assert _group("LoanGoodsFields") == [(f.name, f"tmp:{f.xsd}") for f in form.LOAN_GOODS]
    assert _group("ConfirmationForm") == [(f.name, f"tmp:{f.xsd}") for f in form.CONFIRMATION]
    assert _group("ConfirmationDocumentFields") == [
        (f.name, f"tmp:{f.xsd}") for f in form.CONFIRMATION_DOCUMENT
    ]
    assert _group("ConfirmationGoodsFields") == [
        (f.name, f"tmp:{f.xsd}") for f in form.CONFIRMATION_GOODS
    ]


def _messages() -> list[bytes]:
    return [
        tmp.registration_message(EBC, [tmp.Registration("X-1"), tmp.Registration("X-2")]),
        tmp.change_message(EBC, [tmp.Change("X-1", exhibition_no="ZL29002026000001")]),
        tmp.deletion_message(EBC, [tmp.Deletion("X-1", "ZL29002026000001")]),
        tmp.loan_list_message(EBC, tmp.LoanList("X-1", "ZL29002026000001")),
        tmp.confirmation_message(
            EBC, [tmp.Confirmation("X-1", "ZL29002026000001"), tmp.Confirmation("X-2")]
        ),  # fmt: skip
    ]


@pytest.mark.parametrize("index", range(5))
def test_every_sample_passes_its_xsd_and_finds_its_kind(index: int) -> None:
    root = etree.fromstring(_messages()[index])
    assert loader.validate(root) == []
    kind = registry.for_message(loader.message_type(root))
    assert kind in kinds.KINDS


def test_the_declaring_place_customs_has_no_element() -> None:
    """申报地海关 is neither entered nor returned: a message that carries it is invalid."""
    root = etree.fromstring(_messages()[0])
    record = root[0]
    etree.SubElement(record, f"{{{root.nsmap['tmp']}}}declPortCustoms").text = "2900"
    (violation,) = loader.validate(root)
    assert violation.rule == "R-COM-1" and violation.field.endswith("tmp:declPortCustoms")


RECEIPTS = {
    "TMP102Message": {"exhibitionNo": "ZL29002026000001"},
    "TMP104Message": {"seqNo": "1", "exhibitionNo": "ZL29002026000001"},
    "TMP106Message": {"exhibitionNo": "ZL29002026000001"},
    "TMP108Message": {"loanNo": "ZL29002026000001"},
    "TMP110Message": {"confirmNo": "ZL29002026000001", "closeDate": "20270601"},
}


@pytest.mark.parametrize("mtype", sorted(RECEIPTS))
def test_every_receipt_passes_its_xsd_and_parses_back(mtype: str) -> None:
    entity = {"agentCode": EBC.code, "copNo": "R1", "returnStatus": "2", "returnInfo": "审核通过"}
    body = receipts.build(mtype, [{**entity, **RECEIPTS[mtype]}], 1_790_000_000.0)
    assert loader.validate(etree.fromstring(body)) == []
    (parsed,) = parse_receipt(body).entities
    kind = registry.for_receipt_entity(parsed.kind)
    assert kind is not None and kind.receipt_type == mtype
    assert parsed.key(kind.key_fields)[:2] == (EBC.code, "R1")
    assert set(parsed.assigned_numbers().values()) == {"ZL29002026000001"}


def test_the_documentation_names_every_element() -> None:
    doc = (ROOT / "docs/temporary-messages.md").read_text(encoding="utf-8")
    for f in (*form.KEY, *form.FORM, *form.CHANGE, *form.DELETION, *form.LOAN, *form.LOAN_GOODS,
              *form.CONFIRMATION, *form.CONFIRMATION_GOODS,
              *form.CONFIRMATION_DOCUMENT):  # fmt: skip
        assert f"`{f.name}`" in doc, f.name
    for name in ("LoanGoods", "loanNo", "T301", "T302", "T303", "ConfirmationGoods",
                 "`confirmNo`", "`closeDate`", "T202", "ConfirmationDocument"):  # fmt: skip
        assert name in doc, name
    for mtype in ("TMP101Message", "TMP102Message", "TMP103Message", "TMP104Message",
                  "TMP105Message", "TMP106Message", "TMP107Message", "TMP108Message",
                  "TMP109Message", "TMP110Message"):  # fmt: skip
        assert mtype in doc
    for code in TmpReturn:
        assert f"`{code.value}`" in doc


# --- the simulated customs -------------------------------------------------------------------


@pytest.fixture
def customs(tmp_path: Path) -> Session:
    db = Database(f"sqlite:///{tmp_path / 'sim.db'}")
    SimBase.metadata.create_all(db.engine)
    return Session(db.engine)


SIM = SimpleNamespace(sim=SimpleNamespace(declaring_delay=0.0, result_delay=0.0))


def _answers(session: Session, kind_name: str, data: bytes) -> list[tuple[str, str, str]]:
    """(receipt type, returnStatus, returnInfo) of each answer customs gives."""
    kind = registry.kind(kind_name)
    assert kind is not None
    records = list(kind.records(etree.fromstring(data)))
    out = []
    for answer in sim.behaviours()[kind_name](SIM, session, kind, records, "id", "sender"):
        (entity,) = parse_receipt(answer.body).entities
        out.append((answer.msg_type, entity.return_status, entity.return_info))
    return out


def _registration(**values: str) -> bytes:
    return tmp.registration_message(EBC, [tmp.Registration("S-1", values=values)])


def test_customs_stores_and_approves_with_an_exhibition_number(customs: Session) -> None:
    stored, approved = _answers(customs, "tmp_exhibition", _registration())
    assert stored[:2] == ("TMP102Message", "1")
    assert approved[:2] == ("TMP102Message", "2")


@pytest.mark.parametrize(
    ("name", "term"), [("customsCode", "主管海关"), ("regCustomsCode", "备案海关")]
)
def test_customs_cannot_store_an_unknown_customs(customs: Session, name: str, term: str) -> None:
    ((mtype, status, info),) = _answers(customs, "tmp_exhibition", _registration(**{name: "9999"}))
    assert status == "-1"
    assert f"{term}代码9999不存在 ({name})" in info


@pytest.mark.parametrize(
    ("values", "field"),
    [({"openDate": "20270310", "closeDate": "20270309"}, "closeDate"),
     ({"totalArea": "100", "intlArea": "100.01"}, "intlArea")],
)  # fmt: skip
def test_customs_does_not_approve_an_inconsistent_form(
    customs: Session, values: dict[str, str], field: str
) -> None:
    stored, refused = _answers(customs, "tmp_exhibition", _registration(**values))
    assert stored[1] == "1"
    assert refused[1] == "3" and refused[2].startswith("审核不通过") and field in refused[2]


def _number(cop_no: str = "S-1") -> str:
    """The exhibition customs number the simulated customs gives registration `cop_no`."""
    return sim.exhibition_no("2900", f"{EBC.code}|{cop_no}")


def test_customs_answers_applications_on_an_approved_registration_only(customs: Session) -> None:
    change = tmp.change_message(EBC, [tmp.Change("S-1", exhibition_no=_number())])
    deletion = tmp.deletion_message(EBC, [tmp.Deletion("S-1", _number())])
    assert [a[1] for a in _answers(customs, "tmp_exhibition_change", change)] == ["-1"]
    assert [a[1] for a in _answers(customs, "tmp_exhibition_deletion", deletion)] == ["-1"]
    _answers(customs, "tmp_exhibition", _registration())  # approved now
    changed = _answers(customs, "tmp_exhibition_change", change)
    assert [(a[0], a[1]) for a in changed] == [
        ("TMP104Message", "1"), ("TMP104Message", "2"), ("TMP102Message", "2")
    ]  # fmt: skip
    deleted = _answers(customs, "tmp_exhibition_deletion", deletion)
    assert [(a[0], a[1]) for a in deleted] == [
        ("TMP106Message", "1"), ("TMP106Message", "2"), ("TMP102Message", "4")
    ]  # fmt: skip
    # withdrawn: declaring it again is refused
    ((_t, status, info),) = _answers(customs, "tmp_exhibition", _registration())
    assert status == "-1" and "已删除" in info


def test_an_application_naming_another_number_cannot_be_stored(customs: Session) -> None:
    """T104: the number must be the one customs gave this registration — not merely a
    well-formed one, nor another registration's."""
    _answers(customs, "tmp_exhibition", _registration())
    other = tmp.registration_message(EBC, [tmp.Registration("S-2")])
    _answers(customs, "tmp_exhibition", other)
    for wrong in ("ZL29002026999999", _number("S-2")):
        change = tmp.change_message(EBC, [tmp.Change("S-1", exhibition_no=wrong)])
        ((_t, status, info),) = _answers(customs, "tmp_exhibition_change", change)
        assert status == "-1" and "T104" in info and wrong in info
        deletion = tmp.deletion_message(EBC, [tmp.Deletion("S-1", wrong)])
        ((_t, status, info),) = _answers(customs, "tmp_exhibition_deletion", deletion)
        assert status == "-1" and "T104" in info


# --- the simulated customs and confirmations ---------------------------------------------------


def _confirmation(exhibition_no: str = "", **values: str) -> bytes:
    one = tmp.Confirmation("Q-1", exhibition_no, values=values)
    return tmp.confirmation_message(EBC, [one])


def test_customs_approves_a_confirmation_with_its_number(customs: Session) -> None:
    stored, approved = _answers(customs, "tmp_confirmation", _confirmation())
    assert stored[:2] == ("TMP110Message", "1")
    assert approved[:2] == ("TMP110Message", "2") and approved[2].startswith("审核通过")
    # approved: declaring it again cannot be stored
    ((_t, status, info),) = _answers(customs, "tmp_confirmation", _confirmation())
    assert status == "-1" and "T102" in info


def test_customs_cannot_store_an_unknown_customs_or_exhibition(customs: Session) -> None:
    ((_t, status, info),) = _answers(customs, "tmp_confirmation", _confirmation(customsCode="9999"))
    assert status == "-1" and "[Code:T101;Desc:主管海关代码9999不存在 (customsCode)]" in info
    ((_t, status, info),) = _answers(customs, "tmp_confirmation", _confirmation("ZL29002026000009"))
    assert status == "-1" and "T301" in info and "ZL29002026000009" in info


def test_customs_stores_but_refuses_dates_out_of_order(customs: Session) -> None:
    data = _confirmation(ieDate="20270301", returnDate="20270301")
    stored, refused = _answers(customs, "tmp_confirmation", data)
    assert stored[1] == "1"
    assert refused[1] == "3" and "T202" in refused[2] and "20270301..20270301" in refused[2]


def test_customs_closes_an_approved_confirmation_only(customs: Session) -> None:
    from gateway.core.customs_sim.state import Scheduled
    from gateway.errors import NotFound
    from transports import unwrap

    key = f"{EBC.code}|Q-1"
    with pytest.raises(NotFound):
        sim.close(customs, key, "20270601")  # not approved yet: nothing to close
    _answers(customs, "tmp_confirmation", _confirmation())
    sim.close(customs, key, "20270601", at=1_790_000_000.0)
    (sent,) = customs.query(Scheduled).filter(Scheduled.note == "case closed").all()
    assert sent.routing_key == "sender"  # the declarer of the approved confirmation
    (entity,) = parse_receipt(unwrap(sent.body).data).entities
    assert (entity.return_status, entity.fields["closeDate"]) == ("5", "20270601")
    with pytest.raises(NotFound):
        sim.close(customs, key, "20270602")  # closed once


# --- the exhibition closed, goods off its declarations (issue 12 item 8) ----------------------


def _exhibition(customs: Session, close: str = "20270304") -> str:
    """Customs approves registration S-1 (open 20270301, closing `close`) and holds its
    declarations; its number."""
    from gateway.temporary import declarations

    _answers(customs, "tmp_exhibition", _registration(openDate="20270301", closeDate=close))
    rows = declarations.parse(tmp.sample_declarations(_number()))
    declarations.load(customs, sim.SimDeclarationGoods, rows)
    return _number()


def _loan(number: str, day: str) -> bytes:
    return tmp.loan_list_message(EBC, tmp.LoanList("L-1", number, values={
        "loanDate": day, "loanDueDate": "20270430"}))  # fmt: skip


def test_customs_refuses_a_list_lent_after_the_exhibition_closed(customs: Session) -> None:
    number = _exhibition(customs)
    stored, refused = _answers(customs, "tmp_loan_list", _loan(number, "20270305"))
    assert stored[1] == "1" and refused[1] == "3"
    assert "T305" in refused[2] and "闭幕日期20270304" in refused[2]
    _stored, approved = _answers(customs, "tmp_loan_list", _loan(number, "20270304"))
    assert approved[1] == "2"  # the closing day itself is still open


def test_a_change_customs_approves_moves_the_closing_day(customs: Session) -> None:
    number = _exhibition(customs)
    values = {"openDate": "20270301", "closeDate": "20270310"}
    change = tmp.change_message(EBC, [tmp.Change("S-1", exhibition_no=number, values=values)])
    _answers(customs, "tmp_exhibition_change", change)
    _stored, approved = _answers(customs, "tmp_loan_list", _loan(number, "20270305"))
    assert approved[1] == "2"


def test_customs_refuses_anything_for_an_exhibition_closed_before_today(
    customs: Session,
) -> None:
    number = _exhibition(customs, close="20270304")
    held = customs.get(sim.SimExhibitionDates, f"{EBC.code}|S-1")
    assert held is not None
    held.close_date = "20200101"  # as if it closed long ago (the form's dates are future)
    _stored, refused = _answers(customs, "tmp_loan_list", _loan(number, "20200101"))
    assert refused[1] == "3" and "T305" in refused[2] and "已于20200101闭幕" in refused[2]


def test_customs_refuses_a_confirmation_after_the_closing_day(customs: Session) -> None:
    number = _exhibition(customs)
    late = _confirmation(number, ieDate="20270305", returnDate="20270601")
    _stored, refused = _answers(customs, "tmp_confirmation", late)
    assert refused[1] == "3" and "T305" in refused[2] and "进出境日期20270305" in refused[2]


@pytest.mark.parametrize(
    ("entry", "hs_code", "answer"),
    [("290020261000000101", "8457101000", "2"),  # on the declaration: approved
     ("290020261000000101", "9031499090", "3"),  # that code is another declaration's
     ("290020269999999999", "8457101000", "3")],  # a declaration not linked to it
)  # fmt: skip
def test_customs_refuses_goods_not_on_the_exhibitions_declarations(
    customs: Session, entry: str, hs_code: str, answer: str
) -> None:
    number = _exhibition(customs)
    goods = (tmp.ConfirmationGoods(hs_code=hs_code, entry_id=entry),)
    data = tmp.confirmation_message(EBC, [tmp.Confirmation("Q-1", number, goods=goods, values={
        "ieDate": "20270301", "returnDate": "20270601"})])  # fmt: skip
    _stored, result = _answers(customs, "tmp_confirmation", data)
    assert result[1] == answer
    if answer == "3":
        assert "T302" in result[2] and entry in result[2]


# --- attachments (TMP113): customs receives the files the declaration names ------------------


def _attachment_message(data: bytes, **change: str) -> bytes:
    """A TMP113 of confirmation Q-1 carrying `data`, as the gateway builds it."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from gateway.temporary import attachments

    ent = SimpleNamespace(code=EBC.code, name=EBC.name, dxp_id=EBC.dxp_id)
    conf = SimpleNamespace(agent_code=EBC.code, cop_no="Q-1")
    att = SimpleNamespace(sha256=hashlib.sha256(data).hexdigest(), file_name="发票.pdf",
                          size=len(data), content=data)  # fmt: skip
    root = etree.fromstring(attachments.message(ent, conf, att, datetime.now(UTC)))  # type: ignore[arg-type]
    for name, value in change.items():
        (el,) = [e for e in root.iter() if etree.QName(e).localname == name]
        el.text = value
    return etree.tostring(root)


def test_customs_keeps_an_attachment_and_approves_the_confirmation_naming_it(
    customs: Session,
) -> None:
    from tests.temporary_fixtures import pdf_of

    pdf = pdf_of()
    ((msg_type, status, _info),) = _answers(customs, "tmp_confirmation_attachment",
                                            _attachment_message(pdf))  # fmt: skip
    assert (msg_type, status) == ("TMP114Message", "1")
    held = customs.get(sim.SimAttachment, (f"{EBC.code}|Q-1", hashlib.sha256(pdf).hexdigest()))
    assert held is not None and held.content == pdf  # the bytes themselves reached customs
    digest = hashlib.sha256(pdf).hexdigest()
    one = tmp.Confirmation("Q-1", documents=(("发票.pdf", digest),))
    _stored, approved = _answers(customs, "tmp_confirmation", tmp.confirmation_message(EBC, [one]))
    assert approved[1] == "2"


def test_customs_cannot_store_a_confirmation_naming_a_file_it_never_received(
    customs: Session,
) -> None:
    digest = "a" * 64
    one = tmp.Confirmation("Q-1", documents=(("发票.pdf", digest),))
    ((_t, status, info),) = _answers(customs, "tmp_confirmation",
                                     tmp.confirmation_message(EBC, [one]))  # fmt: skip
    assert status == "-1" and "T503" in info and "发票.pdf" in info and digest in info


def test_customs_refuses_a_file_off_its_digest_or_not_a_pdf(customs: Session) -> None:
    from tests.temporary_fixtures import pdf_of

    pdf = pdf_of()
    ((_t, status, info),) = _answers(customs, "tmp_confirmation_attachment",
                                     _attachment_message(pdf, sha256="b" * 64))  # fmt: skip
    assert status == "-1" and "T501" in info
    text = b"just text, not a PDF"
    ((_t, status, info),) = _answers(customs, "tmp_confirmation_attachment",
                                     _attachment_message(text))  # fmt: skip
    assert status == "-1" and "T502" in info
