"""The review confirmation query (暂时进出境审核确认查询, §2.2): no condition lists all of the
enterprise's confirmations; 主管地海关, status and filling-date filters; pages with the
manual's line; each record's columns (预录入编号, 确认申请书编号, 审核备注, 结案日期…), goods,
attachments, history and receipts; another enterprise's stay unseen; HTTP and CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pypdf import PdfWriter
from sqlalchemy import select

from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.enterprises import Caller
from gateway.core.models import Enterprise, utcnow
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.errors import InvalidMessage, NotFound
from gateway.temporary import attachments, confirmation_queries
from gateway.temporary import samples as tmp
from gateway.temporary.queries import Conditions
from tests.stack import CARRIER_KEY, EBC_KEY, make_config, raw_config
from tests.temporary_fixtures import CARRIER, EBC, TmpEnv, make_env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _caller(env: TmpEnv, code: str = EBC.code) -> Caller:
    with env.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        assert ent is not None
        return Caller(enterprise_id=ent.id, enterprise_code=ent.code)


def _search(env: TmpEnv, who: str = EBC.code, **cond: Any) -> dict[str, Any]:
    with env.db.session() as session:
        return confirmation_queries.search(session, _caller(env, who), Conditions(**cond))


def _cops(found: dict[str, Any]) -> list[str]:
    return [r["cop_no"] for r in found["records"]]


def _submit(env: TmpEnv, cop_no: str, days_ago: int, sender: Any = EBC, **kw: Any) -> int:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    data = tmp.confirmation_message(sender, [tmp.Confirmation(cop_no, **kw)])
    return env.submit(data, sender, at=at).documents[0].id


def _fill(env: TmpEnv) -> dict[str, int]:
    """G-1 today in 2900 (saved), G-2 three days ago in 0100, G-3 ten days ago (approved)."""
    docs = {
        "G-1": _submit(env, "G-1", 0, app_status="1"),
        "G-2": _submit(env, "G-2", 3, values={"customsCode": "0100"}),
        "G-3": _submit(env, "G-3", 10),
    }
    _submit(env, "THEIRS", 0, sender=CARRIER)
    env.set_status(docs["G-3"], Status.STORED)
    env.receipt("TMP110Message", agentCode=EBC.code, copNo="G-3", returnStatus="2",
                returnInfo="审核通过，请按期复运", confirmNo="QR29002026000003")  # fmt: skip
    return docs


def test_no_condition_lists_all_newest_first(env: TmpEnv) -> None:
    _fill(env)
    found = _search(env)
    assert (_cops(found), found["total"]) == (["G-1", "G-2", "G-3"], 3)
    assert found["shown"] == "显示第 1 到第 3 条记录, 总共 3 条记录"


def test_filters_and_pages(env: TmpEnv) -> None:
    _fill(env)
    today = datetime.now(UTC).date()
    assert _cops(_search(env, customs="0100")) == ["G-2"]
    assert _cops(_search(env, status="审核通过")) == ["G-3"]
    assert _cops(_search(env, status="saved")) == ["G-1"]
    assert _cops(_search(env, filled_from=today - timedelta(days=5))) == ["G-1", "G-2"]
    assert _cops(_search(env, filled_to=today - timedelta(days=5))) == ["G-3"]
    second = _search(env, page=2, size=2)
    assert _cops(second) == ["G-3"] and second["shown"] == "显示第 3 到第 3 条记录, 总共 3 条记录"
    with pytest.raises(InvalidMessage) as info:
        _search(env, status="nonsense")
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-COM-7", "status")]


def test_a_record_shows_the_pages_columns_and_customs_answers(env: TmpEnv) -> None:
    docs = _fill(env)
    (g3,) = [r for r in _search(env)["records"] if r["cop_no"] == "G-3"]
    assert g3["pre_entry_no"].startswith("G2900") and g3["confirm_no"] == "QR29002026000003"
    assert (g3["status_name"], g3["review_remarks"]) == ("审核通过", "审核通过，请按期复运")
    assert g3["close_date"] is None and g3["operations"] == []
    assert [r["to"] for r in g3["receipts"]] == ["stored", "approved"]
    env.receipt("TMP110Message", agentCode=EBC.code, copNo="G-3", returnStatus="5",
                returnInfo="结案", closeDate="20270601")  # fmt: skip
    with env.db.session() as session:
        one = confirmation_queries.detail(session, _caller(env), docs["G-3"])
    assert (one["status_name"], one["close_date"]) == ("结案", "20270601")
    assert one["goods"][0]["goodsName"] == "立式加工中心" and one["form"]["ieFlag"] == "I"


def test_a_record_lists_its_attachments(env: TmpEnv) -> None:
    docs = _fill(env)
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    out = io.BytesIO()
    writer.write(out)
    with env.db.session() as session:
        attachments.add(session, _caller(env), docs["G-1"], "invoice.pdf", out.getvalue(),
                        utcnow())  # fmt: skip
    with env.db.session() as session:
        one = confirmation_queries.detail(session, _caller(env), docs["G-1"])
    ((name, size, digest),) = [(a["file_name"], a["size"], a["sha256"]) for a in one["attachments"]]
    assert (name, size, len(digest)) == ("invoice.pdf", len(out.getvalue()), 64)


def test_another_enterprises_confirmation_answers_like_a_missing_one(env: TmpEnv) -> None:
    docs = _fill(env)
    assert _cops(_search(env, CARRIER.code)) == ["THEIRS"]
    with env.db.session() as session, pytest.raises(NotFound):
        confirmation_queries.detail(session, _caller(env, CARRIER.code), docs["G-1"])


def test_http_and_cli(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmpcq."))
    gw.prepare(broker=False)
    draft = tmp.confirmation_message(EBC, [tmp.Confirmation("H-1", app_status="1")])
    mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
    try:
        with TestClient(create_app(gw)) as client:
            assert client.post("/v1/messages", content=draft, headers=mine).status_code == 201
            page = client.get("/v1/confirmations", headers=mine).json()
            assert [r["cop_no"] for r in page["records"]] == ["H-1"]
            doc_id = page["records"][0]["document_id"]
            one = client.get(f"/v1/confirmations/{doc_id}", headers=mine).json()
            assert one["pre_entry_no"].startswith("G2900") and one["status_name"] == "暂存"
            assert client.get("/v1/confirmations", headers=theirs).json()["total"] == 0
            assert client.get(f"/v1/confirmations/{doc_id}", headers=theirs).status_code == 404
            bad = client.get("/v1/confirmations?filled_from=2026-12-02&filled_to=2026-12-01",
                             headers=mine)  # fmt: skip
            assert bad.status_code == 422 and "R-COM-7" in bad.text
    finally:
        gw.db.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="tmpcq."),
                                     allow_unicode=True))  # fmt: skip
    result = CliRunner().invoke(main, ["--config", str(config), "tmp-confirmations",
                                       "--enterprise", EBC.code])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["records"][0]["cop_no"] == "H-1"
