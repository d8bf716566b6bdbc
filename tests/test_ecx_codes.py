"""Coded export fields against the customs code tables (gateway/ecx/codetables.py; manual 004
§3.1 parameter fields; R-COM-1.code; issue #16 gap 9): transport mode, country, unit,
packaging and customs/port codes are refused when the table lacks them, not only when their
length is wrong; a table loaded with `ecx-codes load` replaces the shipped one in every
process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.appointments import refdata
from gateway.cli import main
from gateway.core import checks
from gateway.core.api import create_app
from gateway.core.db import Database
from gateway.core.migrate import upgrade
from gateway.core.models import Receipt
from gateway.core.runtime import Gateway
from gateway.ecx import codemessage, codetables
from gateway.ecx import samples_lists as ecx
from gateway.ecx.samples import DEMO_EBC, logistics_numbers, order_numbers
from gateway.errors import InvalidMessage
from gateway.xmlsafe import parse
from schemas import validate
from tests.stack import AMQP_URL, EBC_KEY, make_config, publish_receipt, raw_config, wait_value
from transports import wrap

CUSTOMS = "DXPEDCCEB0000003"

ORDERS, PARCEL_NOS = order_numbers(2, start=71), logistics_numbers(2, start=71)
PARCELS = [ecx.Parcel(o, n) for o, n in zip(ORDERS, PARCEL_NOS, strict=True)]


@pytest.fixture(autouse=True)
def shipped_tables() -> Iterator[None]:
    codetables.CURRENT.reset()
    yield
    codetables.CURRENT.reset()


def _inventory(**changes: str) -> bytes:
    """A sample inventory list with the first occurrence of each field set to a value."""
    data = ecx.inventory_message(DEMO_EBC, PARCELS).decode()
    for name, value in changes.items():
        data, count = re.subn(rf"<ceb:{name}>[^<]*<", f"<ceb:{name}>{value}<", data, count=1)
        assert count == 1, name
    return data.encode()


def _violations(data: bytes) -> list:
    root = parse(data).getroot()
    assert validate(root) == []  # the XSD lets these through: only the tables refuse them
    return checks.check_message(root)


def test_the_sample_uses_codes_of_the_tables() -> None:
    assert _violations(_inventory()) == []


@pytest.mark.parametrize(
    ("field", "value", "table"),
    [
        ("country", "998", "国别(地区)代码表"),
        ("trafMode", "K", "运输方式代码表"),
        ("unit", "024", "计量单位代码表"),  # 024 is a gap in the unit table
        ("unit1", "900", "计量单位代码表"),
        ("wrapType", "8", "包装种类代码表"),
        ("customsCode", "9999", "关区代码表"),
        ("portCode", "0199", "关区代码表"),  # 4 digits, Beijing's prefix, no such office
        ("customsCode", "7299", "关区代码表"),
    ],
)
def test_a_code_missing_from_its_table_is_refused(field: str, value: str, table: str) -> None:
    (v,) = _violations(_inventory(**{field: value}))
    assert (v.rule, v.value) == ("R-COM-1.code", value)
    assert v.field.endswith(f"/{field}")
    assert v.message.startswith(field) and f"{value} is not" in v.message and table in v.message


def test_the_tables_are_complete_where_customs_publishes_them() -> None:
    shipped = codetables.shipped()
    assert len(shipped["country"]) >= 240 and shipped["country"]["142"] == "中国"
    assert shipped["country"]["502"] == "美国" and shipped["country"]["304"] == "德国"
    assert len(shipped["unit"]) >= 120 and shipped["unit"]["035"] == "千克"
    assert shipped["traf_mode"]["5"] == "航空运输"
    assert all(len(c) == 4 and c.isdigit() for c in shipped["customs"])


@pytest.mark.parametrize("field", ["customsCode", "portCode"])
@pytest.mark.parametrize("office", ["0000", "0100", "0101", "0801", "4300", "5301", "7208", "9900"])
def test_a_real_customs_office_is_accepted(field: str, office: str) -> None:
    """R-COM-1.code: the 关区代码表 lists customs' offices, not only the few the samples use
    (0100 北京关区 or 7208 凭祥海关 were refused while it had 8 rows)."""
    assert _violations(_inventory(**{field: office})) == []


def test_the_customs_table_keeps_every_office_the_gateway_uses() -> None:
    """The offices of the samples and examples and of the appointment reference data."""
    offices = set(codetables.shipped()["customs"])
    assert len(offices) >= 190
    assert {ecx.DEMO_CUSTOMS} | {p["code"] for p in refdata.PORTS} <= offices
    used = set()
    for path in Path("examples").rglob("*.xml"):
        used |= set(re.findall(r"<ceb:(?:customsCode|portCode)>(\d{4})<", path.read_text()))
    assert used and used <= offices


# --- loading a table ---------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'codes.db'}")
    upgrade(database)
    yield database
    database.dispose()


def test_a_loaded_table_replaces_the_shipped_one(db: Database) -> None:
    countries = {c: n for c, n in codetables.shipped()["country"].items() if c != "304"}
    countries["398"] = "测试国"
    with db.session() as session:
        assert codetables.load(session, "country", countries, "country.csv") == 1
    with db.session() as session:
        assert codetables.refresh(session) == ["country"]
        assert codetables.refresh(session) == []  # nothing new: nothing read
    found = _violations(_inventory(country="304"))  # withdrawn by the new table
    assert found and {(v.rule, v.value) for v in found} == {("R-COM-1.code", "304")}
    assert _violations(_inventory().replace(b">304<", b">398<")) == []


def test_another_process_takes_the_new_version(db: Database) -> None:
    other = codetables.Tables()  # what a second gateway process holds
    with db.session() as session:
        codetables.load(session, "traf_mode", {"5": "航空运输"}, "a.csv")
    with db.session() as session:
        assert codetables.refresh(session, other) == ["traf_mode"]
        codetables.load(session, "traf_mode", {"4": "公路运输"}, "b.csv")
    with db.session() as session:
        assert codetables.refresh(session, other) == ["traf_mode"]
    assert dict(other.codes("traf_mode")) == {"4": "公路运输"}
    assert "142" in other.codes("country")  # the tables not loaded stay the shipped ones


@pytest.mark.parametrize(
    ("table", "codes", "field"),
    [
        ("colour", {"1": "红"}, "table"),
        ("country", {}, "country"),
        ("country", {"1420": "中国"}, "country/1420"),
        ("customs", {"22 3": "x"}, "customs/22 3"),
    ],
)
def test_a_bad_table_is_refused_and_nothing_changes(
    db: Database, table: str, codes: dict[str, str], field: str
) -> None:
    with db.session() as session, pytest.raises(InvalidMessage) as caught:
        codetables.load(session, table, codes, "x.csv")
    assert caught.value.violations[0].field == field
    with db.session() as session:
        assert codetables.refresh(session) == []


# --- the command -------------------------------------------------------------------------------


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


@pytest.fixture
def config(tmp_path: Path, keys_dir: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="ecxcodes."),
                                   allow_unicode=True))  # fmt: skip
    return path


def test_ecx_codes_load_and_show(config: Path, tmp_path: Path) -> None:
    table = tmp_path / "wrap_type.csv"
    table.write_text("code,name\n1,木箱\n2,纸箱\n", encoding="utf-8")
    code, out = _run(config, "ecx-codes", "load", str(table))
    assert code == 0, out
    assert '"codes": 2' in out and '"version": 1' in out
    code, out = _run(config, "ecx-codes", "show")
    assert code == 0 and '"source": "wrap_type.csv"' in out and '"source": "shipped"' in out
    (v,) = _violations(_inventory(wrapType="3"))  # this process took the loaded table
    assert v.value == "3"


def test_ecx_codes_load_refuses_a_file_without_the_header(config: Path, tmp_path: Path) -> None:
    table = tmp_path / "country.csv"
    table.write_text("142,中国\n", encoding="utf-8")
    code, out = _run(config, "ecx-codes", "load", str(table))
    assert code == 1 and "code,name" in out and "Traceback" not in out


# --- through intake ----------------------------------------------------------------------------


def test_intake_refuses_an_unknown_country_naming_field_rule_and_table(
    tmp_path: Path, keys_dir: Path
) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="ecxcodes."))
    gw.prepare(broker=False)
    try:
        with TestClient(create_app(gw)) as client:
            answer = client.post("/v1/messages", content=_inventory(country="998"),
                                 headers={"X-API-Key": EBC_KEY})  # fmt: skip
    finally:
        gw.db.dispose()
    assert answer.status_code == 422, answer.text
    (v,) = answer.json()["violations"]
    assert v["rule"] == "R-COM-1.code" and v["value"] == "998"
    assert "国别(地区)代码表" in v["message"]


# --- customs announces a table: ECX110Message --------------------------------------------------


def test_a_table_customs_announces_is_taken_and_one_not_from_customs_is_not(
    make_stack: Any,
) -> None:
    stack = make_stack().start(sim=False)
    countries = {c: n for c, n in codetables.shipped()["country"].items() if c != "304"}
    data = codemessage.build({"country": countries})  # Germany withdrawn

    def send(url: str = "") -> None:
        env = wrap(data, msg_type=codemessage.MESSAGE_TYPE, sender_id=CUSTOMS,
                   receiver_ids=(stack.ebc.dxp_id,))  # fmt: skip
        publish_receipt(stack, env.body, env.cop_msg_id, url)

    def receipts() -> list[tuple[str, str]]:
        with stack.gateway.db.session() as session:
            return [(r.outcome, r.error or "") for r in session.scalars(select(Receipt))]

    send(url=AMQP_URL)  # the right envelope from the wrong broker user (R-COM-4)
    (kept,) = wait_value(receipts, lambda rows: len(rows) >= 1, 30)
    assert kept[0] == "untrusted"
    assert _violations(_inventory()) == []  # 304 (Germany) still a country
    send()
    assert wait_value(receipts, lambda rows: len(rows) >= 2, 30)[1][0] == "matched"
    found = _violations(_inventory())
    assert found and {v.value for v in found} == {"304"}


def test_a_table_message_with_a_bad_code_loads_nothing(db: Database) -> None:
    data = codemessage.build({"unit": {"011": "件"}, "country": {"1420": "中国"}})
    with db.session() as session:
        row = codemessage.take(session, data, "cop-1")
        assert row.outcome == "unreadable" and "1420" in (row.error or "")
        assert codetables.refresh(session) == []


def test_a_process_serving_http_only_takes_a_table_loaded_elsewhere(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codetables, "REFRESH_SECONDS", 0.2)
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="ecxcodes."))
    gw.prepare(broker=False)
    countries = {c: n for c, n in codetables.shipped()["country"].items() if c != "304"}

    attempts = iter(range(100, 1000))

    def rules(client: TestClient) -> set[str]:
        """The rules a new saved list from Germany (304) breaks, if any."""
        n = next(attempts)
        parcel = ecx.Parcel(order_numbers(1, start=n)[0], logistics_numbers(1, start=n)[0])
        data = ecx.inventory_message(DEMO_EBC, [parcel], app_status="1")
        answer = client.post("/v1/messages", content=data, headers={"X-API-Key": EBC_KEY})
        return {v["rule"] for v in answer.json().get("violations", [])}

    try:
        with TestClient(create_app(gw)) as client:  # no workers: the app's lifespan refreshes
            with gw.db.session() as session:  # as `ecx-codes load` in another process
                codetables.load(session, "country", countries, "country.csv")
            codetables.CURRENT.reset()  # this process has not read it: only the refresher may
            found = wait_value(lambda: rules(client), lambda r: "R-COM-1.code" in r, 30)
            assert found == {"R-COM-1.code"}
    finally:
        gw.db.dispose()


def test_a_table_loaded_on_postgresql(pg_url: str) -> None:
    database = Database(pg_url)
    try:
        upgrade(database)
        with database.session() as session:
            codetables.load(session, "unit", {"011": "件", "007": "个"}, "unit.csv")
        with database.session() as session:
            codetables.load(session, "unit", {"011": "件"}, "unit.csv")  # a second version
        with database.session() as session:
            assert codetables.refresh(session) == ["unit"]
            assert codetables.counts(session)["unit"]["version"] == 2
        assert dict(codetables.CURRENT.codes("unit")) == {"011": "件"}
    finally:
        database.dispose()


def test_a_process_says_once_that_the_customs_table_is_the_shipped_partial_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The shipped 关区 table holds the offices public listings show, not customs' whole
    table: an operator is told to load customs' own (docs/ecx-codes.md)."""
    tables = codetables.Tables()
    with caplog.at_level("INFO", logger="gateway.ecx.codetables"):
        assert codetables.warn_if_partial(tables)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "customs is the shipped partial one" in said[0]
    assert "ecx-codes load customs.csv" in said[0] and "R-COM-1.code" in said[0]


def test_a_loaded_customs_table_is_not_called_partial(caplog: pytest.LogCaptureFixture) -> None:
    tables = codetables.Tables()
    tables.replace({"customs": {"0100": "北京关区"}}, {"customs": 1})
    with caplog.at_level("INFO", logger="gateway.ecx.codetables"):
        assert codetables.warn_if_partial(tables)
    assert not caplog.records
