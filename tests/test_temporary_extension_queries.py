"""The extension query (暂时进出境货物延期查询, §2.4): no condition lists all of the
enterprise's extensions; 申请海关, status and filling-date filters; pages with the manual's
line; each record's columns (预录入延期编号, 延期批文号, 延期申请期限, 海关延期审核允许时间…),
history and receipts; another enterprise's stay unseen; HTTP and CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.enterprises import Caller
from gateway.core.models import Enterprise
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.errors import InvalidMessage, NotFound
from gateway.temporary import extension_queries
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpStatus
from gateway.temporary.queries import Conditions
from tests.stack import CARRIER_KEY, EBC_KEY, make_config, raw_config
from tests.temporary_fixtures import CARRIER, EBC, TmpEnv, make_env

QR = "QR29002027000001"


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
        return extension_queries.search(session, _caller(env, who), Conditions(**cond))


def _cops(found: dict[str, Any]) -> list[str]:
    return [r["cop_no"] for r in found["records"]]


def _ext(env: TmpEnv, cop_no: str, days_ago: int, sender: Any = EBC, **kw: Any) -> int:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    data = tmp.extension_message(sender, [tmp.Extension(cop_no, QR, "20270430", **kw)])
    return env.submit(data, sender, at=at).documents[0].id


def _fill(env: TmpEnv) -> dict[str, int]:
    """Y-1 today in 2900 (saved), Y-2 three days ago in 0100, Y-3 ten days ago (approved)."""
    values = {"ieDate": "20270101", "returnDate": "20270331"}
    for sender in (EBC, CARRIER):
        msg = tmp.confirmation_message(sender, [tmp.Confirmation("C1", values=values)])
        doc = env.submit(msg, sender).documents[0].id
        env.set_status(doc, TmpStatus.APPROVED, confirmNo=QR)
    # Y-3 answered before Y-2 is declared: one extension of a confirmation with customs at
    # a time (R-TMP-6)
    docs = {"Y-1": _ext(env, "Y-1", 0, app_status="1"), "Y-3": _ext(env, "Y-3", 10)}
    env.set_status(docs["Y-3"], Status.STORED)
    env.receipt("TMP112Message", agentCode=EBC.code, copNo="Y-3", returnStatus="2",
                returnInfo="同意延期至20270420", allowedDate="20270420")  # fmt: skip
    docs["Y-2"] = _ext(env, "Y-2", 3, values={"customsCode": "0100"})
    _ext(env, "THEIRS", 0, sender=CARRIER)
    return docs


def test_no_condition_lists_all_newest_first(env: TmpEnv) -> None:
    _fill(env)
    found = _search(env)
    assert (_cops(found), found["total"]) == (["Y-1", "Y-2", "Y-3"], 3)
    assert found["shown"] == "显示第 1 到第 3 条记录, 总共 3 条记录"


def test_filters_and_pages(env: TmpEnv) -> None:
    _fill(env)
    today = datetime.now(UTC).date()
    assert _cops(_search(env, customs="0100")) == ["Y-2"]
    assert _cops(_search(env, status="审核通过")) == ["Y-3"]
    assert _cops(_search(env, status="saved")) == ["Y-1"]
    assert _cops(_search(env, filled_from=today - timedelta(days=5))) == ["Y-1", "Y-2"]
    assert _cops(_search(env, filled_to=today - timedelta(days=5))) == ["Y-3"]
    second = _search(env, page=2, size=2)
    assert _cops(second) == ["Y-3"] and second["shown"] == "显示第 3 到第 3 条记录, 总共 3 条记录"
    with pytest.raises(InvalidMessage) as info:
        _search(env, status="nonsense")
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-COM-7", "status")]


def test_a_record_shows_the_pages_columns_and_customs_answer(env: TmpEnv) -> None:
    docs = _fill(env)
    (y3,) = [r for r in _search(env)["records"] if r["cop_no"] == "Y-3"]
    assert y3["pre_entry_no"].startswith("Y2900") and y3["customs_name"] == "杭州关区"
    assert (y3["approval_no"], y3["extend_date"], y3["allowed_date"]) == (
        "1122-34", "20270430", "20270420"
    )  # fmt: skip
    assert (y3["confirm_no"], y3["previous_date"]) == (QR, "20270331")
    assert (y3["status_name"], y3["review_remarks"]) == ("审核通过", "同意延期至20270420")
    assert [r["to"] for r in y3["receipts"]] == ["stored", "approved"]
    with env.db.session() as session:
        one = extension_queries.detail(session, _caller(env), docs["Y-1"])
    assert one["operations"] == ["modify", "delete"] and one["form"]["reason"]
    assert one["allowed_date"] is None


def test_another_enterprises_extension_answers_like_a_missing_one(env: TmpEnv) -> None:
    docs = _fill(env)
    assert _cops(_search(env, CARRIER.code)) == ["THEIRS"]
    with env.db.session() as session, pytest.raises(NotFound):
        extension_queries.detail(session, _caller(env, CARRIER.code), docs["Y-1"])


def test_http_and_cli(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmpeq."))
    gw.prepare(broker=False)
    draft = tmp.extension_message(EBC, [tmp.Extension("H-1", "", "", app_status="1")])
    mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
    try:
        with TestClient(create_app(gw)) as client:
            assert client.post("/v1/messages", content=draft, headers=mine).status_code == 201
            page = client.get("/v1/extensions", headers=mine).json()
            assert [r["cop_no"] for r in page["records"]] == ["H-1"]
            doc_id = page["records"][0]["document_id"]
            one = client.get(f"/v1/extensions/{doc_id}", headers=mine).json()
            assert one["pre_entry_no"].startswith("Y2900") and one["status_name"] == "暂存"
            assert client.get("/v1/extensions", headers=theirs).json()["total"] == 0
            assert client.get(f"/v1/extensions/{doc_id}", headers=theirs).status_code == 404
            bad = client.get("/v1/extensions?filled_from=2026-12-02&filled_to=2026-12-01",
                             headers=mine)  # fmt: skip
            assert bad.status_code == 422 and "R-COM-7" in bad.text
    finally:
        gw.db.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="tmpeq."),
                                     allow_unicode=True))  # fmt: skip
    result = CliRunner().invoke(main, ["--config", str(config), "tmp-extensions",
                                       "--enterprise", EBC.code])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["records"][0]["cop_no"] == "H-1"
