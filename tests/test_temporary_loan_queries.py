"""The declarations linked to exhibitions (reference data: the file, the load, the lookup
报关单商品查询) and the loaned-exhibit list query (外借展品清单查询), in process, over HTTP
and by the CLI; and the simulated customs' answers to lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core import registry
from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.customs_sim.state import SimBase
from gateway.core.db import Database
from gateway.core.enterprises import Caller
from gateway.core.models import Enterprise
from gateway.core.runtime import Gateway
from gateway.errors import InvalidMessage, NotFound
from gateway.temporary import declarations, loan_queries, sim
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpReturn, TmpStatus
from gateway.temporary.queries import Conditions
from receipts.parse import parse_receipt
from tests.stack import CARRIER_KEY, EBC_KEY, make_config, raw_config
from tests.temporary_fixtures import CARRIER, EBC, ENTRY_1, ENTRY_2, EXHIBITION_NO, TmpEnv, make_env

ADMIN = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    e.approved_exhibition("EXPO-1", EXHIBITION_NO)
    yield e
    e.db.dispose()


def _caller(env: TmpEnv, code: str) -> Caller:
    with env.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        assert ent is not None
        return Caller(enterprise_id=ent.id, enterprise_code=ent.code)


def _lookup(env: TmpEnv, who: Caller, *args: Any) -> dict[str, Any]:
    with env.db.session() as session:
        return loan_queries.goods_lookup(session, who, *args)


# --- the file and the load ---------------------------------------------------------------------


def test_the_sample_file_parses_to_three_lines() -> None:
    rows = declarations.parse(tmp.sample_declarations(EXHIBITION_NO))
    assert [(r["entry_id"], r["item_no"]) for r in rows] == [(ENTRY_1, 1), (ENTRY_1, 2),
                                                               (ENTRY_2, 1)]  # fmt: skip
    assert rows[2]["qty"] == 2.5 and rows[1]["qty2"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [({"entryId": "2900"}, "declarations[1]/entryId"),
     ({"exhibitionNo": ""}, "declarations[1]/exhibitionNo"),
     ({"goods": []}, "declarations[1]/goods")],
)  # fmt: skip
def test_a_bad_declaration_is_refused_naming_it(change: dict[str, Any], field: str) -> None:
    data = tmp.sample_declarations(EXHIBITION_NO)
    data["declarations"][0].update(change)  # type: ignore[index]
    with pytest.raises(InvalidMessage) as info:
        declarations.parse(data)
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-TMP-4", field)]


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [("qty", "0", "more than 0"), ("qty", "1.000001", "5 decimals"), ("itemNo", "1000", "1..999"),
     ("hsCode", "", "missing"), ("price", "abc", "a number"), ("currency", "CNYX", "3 char")],
)  # fmt: skip
def test_a_bad_goods_value_is_refused_naming_it(name: str, value: str, why: str) -> None:
    data = tmp.sample_declarations(EXHIBITION_NO)
    data["declarations"][0]["goods"][0][name] = value  # type: ignore[index]
    with pytest.raises(InvalidMessage) as info:
        declarations.parse(data)
    (v,) = info.value.violations
    assert v.field == f"declarations[1]/goods[1]/{name}" and why in v.message


def test_loading_a_declaration_again_replaces_its_lines(env: TmpEnv) -> None:
    data = tmp.sample_declarations(EXHIBITION_NO)
    data["declarations"] = data["declarations"][:1]  # type: ignore[index]
    data["declarations"][0]["goods"] = data["declarations"][0]["goods"][:1]  # type: ignore[index]
    with env.db.session() as session:
        declarations.load(session, declarations.TmpDeclarationGoods, declarations.parse(data))
    lines = _lookup(env, ADMIN, EXHIBITION_NO)["lines"]
    assert [(x["entryId"], x["itemNo"]) for x in lines] == [(ENTRY_1, 1), (ENTRY_2, 1)]


# --- 报关单商品查询 ------------------------------------------------------------------------------


def test_the_lookup_lists_all_lines_one_declarations_or_one(env: TmpEnv) -> None:
    me = _caller(env, EBC.code)
    every = _lookup(env, me, EXHIBITION_NO)
    assert every["total"] == 3
    first = every["lines"][0]
    assert first == {
        "exhibitionNo": EXHIBITION_NO, "entryId": ENTRY_1, "itemNo": 1, "hsCode": "8457101000",
        "name": "立式加工中心", "model": "VMC-850", "qty": "10", "unit": "台", "qty1": "10",
        "unit1": "台", "qty2": "65000", "unit2": "千克", "price": "480000",
        "total": "4800000", "currency": "CNY", "origin": "DEU", "licences": "A",
    }  # fmt: skip
    assert _lookup(env, me, EXHIBITION_NO, ENTRY_1)["total"] == 2
    (one,) = _lookup(env, me, EXHIBITION_NO, ENTRY_1, 2)["lines"]
    assert one["name"] == "工业机器人"
    none = _lookup(env, me, EXHIBITION_NO, ENTRY_1, 9)
    assert (none["total"], none["message"]) == (0, "没有找到匹配的记录")


def test_an_item_number_without_a_declaration_number_is_refused(env: TmpEnv) -> None:
    with pytest.raises(InvalidMessage) as info:
        _lookup(env, _caller(env, EBC.code), EXHIBITION_NO, None, 1)
    (v,) = info.value.violations
    assert (v.rule, v.field) == ("R-TMP-4", "itemNo")


def test_another_enterprises_exhibition_answers_like_an_unknown_one(env: TmpEnv) -> None:
    them = _caller(env, CARRIER.code)
    for number in (EXHIBITION_NO, "ZL00000000000000"):
        with pytest.raises(NotFound) as info:
            _lookup(env, them, number)
        assert str(info.value) == f"no approved exhibition {number}"
    assert _lookup(env, ADMIN, EXHIBITION_NO)["total"] == 3


# --- 外借展品清单查询 ----------------------------------------------------------------------------


def _fill(env: TmpEnv) -> None:
    """L-3 ten days ago (approved), L-2 three days ago, L-1 today; the carrier's one."""
    for cop, ago, qty in (("L-3", 10, "1"), ("L-2", 3, "2"), ("L-1", 0, "3")):
        loan = tmp.LoanList(cop, EXHIBITION_NO, goods=(tmp.LoanGoods(qty=qty),))
        env.submit(tmp.loan_list_message(EBC, loan), at=datetime.now(UTC) - timedelta(days=ago))
    doc = _search(env, ADMIN)["records"][-1]["document_id"]
    env.set_status(doc, TmpStatus.APPROVED, loanNo="WJ29002026000001")
    env.approved_exhibition("THEIRS", "ZL29002026654321", sender=CARRIER)
    theirs = tmp.LoanList("L-9", "ZL29002026654321", goods=(), app_status="1")
    env.submit(tmp.loan_list_message(CARRIER, theirs), CARRIER)


def _search(env: TmpEnv, who: Caller, exhibition_no: str | None = None, **cond: Any) -> Any:
    with env.db.session() as session:
        return loan_queries.search(session, who, Conditions(**cond), exhibition_no)


def _cops(found: dict[str, Any]) -> list[str]:
    return [r["cop_no"] for r in found["records"]]


def test_no_condition_lists_all_of_the_enterprises_lists(env: TmpEnv) -> None:
    _fill(env)
    me = _caller(env, EBC.code)
    found = _search(env, me)
    assert _cops(found) == ["L-1", "L-2", "L-3"]
    assert found["shown"] == "显示第 1 到第 3 条记录, 总共 3 条记录"
    assert _cops(_search(env, ADMIN)) == ["L-9", "L-1", "L-2", "L-3"]


def test_filters_and_pages(env: TmpEnv) -> None:
    _fill(env)
    me = _caller(env, EBC.code)
    today = datetime.now(UTC).date()
    assert _cops(_search(env, me, status="审核通过")) == ["L-3"]
    assert _cops(_search(env, me, customs="0100")) == []
    assert _cops(_search(env, me, filled_from=today - timedelta(days=5))) == ["L-1", "L-2"]
    assert _cops(_search(env, me, EXHIBITION_NO)) == ["L-1", "L-2", "L-3"]
    assert _cops(_search(env, me, "ZL29002026654321")) == []
    second = _search(env, me, page=2, size=2)
    assert (_cops(second), second["shown"]) == (["L-3"], "显示第 3 到第 3 条记录, 总共 3 条记录")
    with pytest.raises(InvalidMessage) as info:
        _search(env, me, filled_from=today, filled_to=today - timedelta(days=1))
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-COM-7", "filled_to")]


def test_a_record_shows_its_goods_operations_history_and_receipts(env: TmpEnv) -> None:
    _fill(env)
    me = _caller(env, EBC.code)
    approved = _search(env, me, status="approved")["records"][0]
    with env.db.session() as session:
        one = loan_queries.detail(session, me, approved["document_id"])
    assert one["loan_no"] == "WJ29002026000001" and one["pre_entry_no"].startswith("W2900")
    assert one["exhibition_name"] == "2027中国（杭州）国际智能制造博览会"
    assert one["operations"] == []
    (line,) = one["goods"]
    assert (line["entryId"], line["itemNo"], line["loanQty"], line["name"], line["qty"]) == (
        ENTRY_1, 1, "1", "立式加工中心", "10")  # fmt: skip
    assert [h["to"] for h in one["history"]] == ["pending_sign", "approved"]
    assert [h["to"] for h in one["receipts"]] == ["approved"]
    assert one["form"]["borrowerName"] == "浙江大学机械工程学院"
    draft = _search(env, me, status="pending_sign")["records"][0]
    assert draft["operations"] == []
    theirs = _search(env, ADMIN, "ZL29002026654321")["records"][0]["document_id"]
    with env.db.session() as session, pytest.raises(NotFound):
        loan_queries.detail(session, me, theirs)


# --- HTTP and the CLI ---------------------------------------------------------------------------


def test_the_http_routes(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmploanapi."))
    gw.prepare(broker=False)
    env = TmpEnv(gw.db, gw.intake)
    env.approved_exhibition("EXPO-1", EXHIBITION_NO)
    draft = tmp.loan_list_message(EBC, tmp.LoanList("W-1", EXHIBITION_NO, app_status="1"))
    try:
        with TestClient(create_app(gw)) as client:
            mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
            taken = client.post("/v1/messages", content=draft, headers=mine)
            assert taken.status_code == 201, taken.text
            assert taken.json()["documents"][0]["kind"] == "tmp_loan_list"
            page = client.get("/v1/loan-lists", headers=mine).json()
            assert [r["cop_no"] for r in page["records"]] == ["W-1"]
            doc_id = page["records"][0]["document_id"]
            one = client.get(f"/v1/loan-lists/{doc_id}", headers=mine).json()
            assert one["goods"][0]["name"] == "立式加工中心"
            assert client.get(f"/v1/loan-lists/{doc_id}", headers=theirs).status_code == 404
            goods = f"/v1/exhibitions/{EXHIBITION_NO}/declaration-goods"
            assert client.get(goods, headers=mine).json()["total"] == 3
            one_line = client.get(f"{goods}?entry_id={ENTRY_1}&item_no=2", headers=mine).json()
            assert one_line["lines"][0]["itemNo"] == 2
            bad = client.get(f"{goods}?item_no=2", headers=mine)
            assert bad.status_code == 422 and "R-TMP-4" in bad.text and "itemNo" in bad.text
            assert client.get(goods, headers=theirs).status_code == 404
    finally:
        gw.db.dispose()


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_the_cli_loads_declarations_and_queries(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="tmploancli.")
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    assert _run(config, "db", "upgrade")[0] == 0
    file = tmp_path / "decl.json"
    file.write_text(json.dumps(tmp.sample_declarations(EXHIBITION_NO), ensure_ascii=False))
    code, out = _run(config, "tmp-declarations", str(file))
    assert (code, out.strip()) == (0, "3 declaration goods lines loaded"), out
    code, out = _run(config, "tmp-declarations", "--customs", str(file))
    assert code == 0 and "(customs)" in out, out
    bad = tmp_path / "bad.yaml"
    bad.write_text("declarations: []\n")
    code, out = _run(config, "tmp-declarations", str(bad))
    assert code == 1 and "R-TMP-4" in out
    # the lookup needs an approved exhibition: none yet, so 404-like for the administrator too
    code, out = _run(config, "tmp-declaration-goods", EXHIBITION_NO)
    assert code == 1 and "no approved exhibition" in out
    code, out = _run(config, "tmp-declaration-goods", EXHIBITION_NO, "--item-no", "1")
    assert code == 1 and "R-TMP-4 itemNo" in out
    code, out = _run(config, "tmp-loan-lists")
    assert code == 0 and json.loads(out)["total"] == 0
    code, out = _run(config, "tmp-loan-lists", "--status", "nonsense")
    assert code == 1 and "R-COM-7" in out


# --- the simulated customs ----------------------------------------------------------------------


@pytest.fixture
def customs(tmp_path: Path) -> Iterator[Session]:
    db = Database(f"sqlite:///{tmp_path / 'sim.db'}")
    SimBase.metadata.create_all(db.engine)
    with Session(db.engine) as session:
        yield session
    db.dispose()


SIM = SimpleNamespace(sim=SimpleNamespace(declaring_delay=0.0, result_delay=0.0))


def _answers(session: Session, kind_name: str, data: bytes) -> list[tuple[str, str, str]]:
    kind = registry.kind(kind_name)
    assert kind is not None
    records = list(kind.records(etree.fromstring(data)))
    out = []
    for answer in sim.behaviours()[kind_name](SIM, session, kind, records, "id", "sender"):
        (entity,) = parse_receipt(answer.body).entities
        out.append((answer.msg_type, entity.return_status, entity.return_info))
    return out


def _approved_exhibition(session: Session) -> str:
    """Customs approves a registration, and holds the demo declarations linked to it."""
    reg = tmp.registration_message(EBC, [tmp.Registration("EXPO-1")])
    _answers(session, "tmp_exhibition", reg)
    (number,) = [n.exhibition_no for n in session.scalars(select(sim.SimExhibitionNumber))]
    rows = declarations.parse(tmp.sample_declarations(number))
    declarations.load(session, sim.SimDeclarationGoods, rows)
    return number


def _loan(number: str, cop: str, *goods: tmp.LoanGoods) -> bytes:
    return tmp.loan_list_message(EBC, tmp.LoanList(cop, number, goods=goods or (tmp.LoanGoods(),)))


def test_customs_approves_a_list_with_its_number(customs: Session) -> None:
    number = _approved_exhibition(customs)
    stored, approved = _answers(customs, "tmp_loan_list", _loan(number, "C-1"))
    assert stored == ("TMP108Message", TmpReturn.STORED, "海关入库成功")
    assert approved[:2] == ("TMP108Message", TmpReturn.APPROVED)


def test_customs_cannot_store_a_list_of_an_unknown_exhibition(customs: Session) -> None:
    _approved_exhibition(customs)
    ((mtype, status, info),) = _answers(customs, "tmp_loan_list", _loan("ZL0000", "C-2"))
    assert (mtype, status) == ("TMP108Message", "-1")
    assert "[Code:T301;" in info and "ZL0000" in info


def test_customs_refuses_goods_not_declared_and_more_than_declared(customs: Session) -> None:
    number = _approved_exhibition(customs)
    _answers(customs, "tmp_loan_list", _loan(number, "C-3", tmp.LoanGoods(qty="8")))
    over = _loan(number, "C-4", tmp.LoanGoods(qty="3"), tmp.LoanGoods(ENTRY_2, "7", "1"))
    _stored, (mtype, status, info) = _answers(customs, "tmp_loan_list", over)
    assert (mtype, status) == ("TMP108Message", TmpReturn.NOT_APPROVED)
    assert "[Code:T303;" in info and "超过申报数量10" in info and "已外借8" in info
    assert "[Code:T302;" in info and f"报关单{ENTRY_2}第7项" in info
    exactly = _loan(number, "C-5", tmp.LoanGoods(qty="2"))
    assert _answers(customs, "tmp_loan_list", exactly)[1][1] == TmpReturn.APPROVED
