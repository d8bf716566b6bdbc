"""The exhibition registration query (展览会备案查询): no condition lists all of the
enterprise's registrations; customs, status and filling-date filters; pages; each record's
operations, history and receipts; another enterprise's records stay unseen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.core.api import create_app
from gateway.core.enterprises import Caller
from gateway.core.models import Enterprise
from gateway.core.runtime import Gateway
from gateway.errors import InvalidMessage, NotFound
from gateway.temporary import kinds, queries, registrations
from gateway.temporary import samples as tmp
from gateway.temporary.codes import CHINA_TZ, TmpStatus
from gateway.temporary.queries import Conditions
from tests.stack import CARRIER_KEY, EBC_KEY, make_config
from tests.temporary_fixtures import CARRIER, EBC, TmpEnv, make_env

ADMIN = Caller(enterprise_id=None, enterprise_code=None, is_admin=True)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _caller(env: TmpEnv, code: str) -> Caller:
    with env.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        assert ent is not None
        return Caller(enterprise_id=ent.id, enterprise_code=ent.code)


def _search(env: TmpEnv, who: Caller | str = EBC.code, **cond: Any) -> dict[str, Any]:
    caller = _caller(env, who) if isinstance(who, str) else who
    with env.db.session() as session:
        return queries.search(session, caller, Conditions(**cond))


def _cops(found: dict[str, Any]) -> list[str]:
    return [r["cop_no"] for r in found["records"]]


def _day(days_ago: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days_ago)


def _fill(env: TmpEnv) -> None:
    """Q-1 today in 2900, Q-2 three days ago in 0100, Q-3 ten days ago in 2900 (approved);
    the carrier's own one."""
    for cop, customs, ago in (("Q-3", "2900", 10), ("Q-2", "0100", 3), ("Q-1", "2900", 0)):
        reg = tmp.Registration(cop, values={"customsCode": customs})
        env.submit(tmp.registration_message(EBC, [reg]), at=_day(ago))
    env.set_status(_doc(env, "Q-3"), TmpStatus.APPROVED, exhibitionNo="ZL1")
    env.submit(tmp.registration_message(CARRIER, [tmp.Registration("Q-9")]), CARRIER)


def _doc(env: TmpEnv, cop: str) -> int:
    found = [r for r in _search(env, ADMIN)["records"] if r["cop_no"] == cop]
    return int(found[0]["document_id"])


def test_no_condition_lists_all_of_the_enterprises_registrations(env: TmpEnv) -> None:
    _fill(env)
    found = _search(env)
    assert _cops(found) == ["Q-1", "Q-2", "Q-3"]  # newest first
    assert found["total"] == 3 and found["shown"] == "显示第 1 到第 3 条记录, 总共 3 条记录"
    assert _cops(_search(env, CARRIER.code)) == ["Q-9"]
    assert len(_search(env, ADMIN)["records"]) == 4


def test_filters_customs_status_and_filling_dates(env: TmpEnv) -> None:
    _fill(env)
    assert _cops(_search(env, customs="0100")) == ["Q-2"]
    assert _cops(_search(env, status="approved")) == ["Q-3"]
    assert _cops(_search(env, status="pending_sign")) == ["Q-1", "Q-2"]
    assert _cops(_search(env, status="审核通过")) == ["Q-3"]  # the page's name of the status
    today = datetime.now(CHINA_TZ).date()
    three = today - timedelta(days=3)
    assert _cops(_search(env, filled_from=three, filled_to=three)) == ["Q-2"]
    assert _cops(_search(env, filled_from=three)) == ["Q-1", "Q-2"]
    assert _cops(_search(env, filled_to=today - timedelta(days=4))) == ["Q-3"]
    assert _cops(_search(env, customs="2900", filled_from=three)) == ["Q-1"]


def test_pages(env: TmpEnv) -> None:
    _fill(env)
    second = _search(env, page=2, size=2)
    assert _cops(second) == ["Q-3"] and second["total"] == 3
    assert second["shown"] == "显示第 3 到第 3 条记录, 总共 3 条记录"
    assert _search(env, page=3, size=2)["records"] == []


@pytest.mark.parametrize(
    ("cond", "field"),
    [({"filled_from": date(2026, 12, 2), "filled_to": date(2026, 12, 1)}, "filled_to"),
     ({"status": "nonsense"}, "status"), ({"size": 101}, "size"), ({"page": 0}, "page")],
)  # fmt: skip
def test_wrong_conditions_are_refused_naming_the_field(
    env: TmpEnv, cond: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidMessage) as refused:
        _search(env, **cond)
    assert [(v.rule, v.field) for v in refused.value.violations] == [("R-COM-7", field)]


def test_a_record_shows_its_operations_history_and_receipts(env: TmpEnv) -> None:
    _fill(env)
    (q3,) = [r for r in _search(env)["records"] if r["cop_no"] == "Q-3"]
    assert q3["operations"] == ["change", "revoke"]
    assert q3["exhibition_no"] == "ZL1" and q3["status_name"] == "审核通过"
    assert q3["customs_name"] == "杭州关区"
    assert [h["to"] for h in q3["history"]] == ["pending_sign", "approved"]
    assert [h["to"] for h in q3["receipts"]] == ["approved"]
    (q1,) = [r for r in _search(env)["records"] if r["cop_no"] == "Q-1"]
    assert q1["operations"] == []  # declared, at customs: nothing to do until it answers
    assert q1["filled_date"] == f"{datetime.now(CHINA_TZ):%Y%m%d}"


def test_the_history_includes_the_registrations_applications(env: TmpEnv) -> None:
    _fill(env)
    doc = _doc(env, "Q-3")
    change = tmp.Change("Q-3", exhibition_no="ZL1", values={"customsCode": "2900"})
    env.submit(tmp.change_message(EBC, [change]))
    with env.db.session() as session:
        view = queries.detail(session, _caller(env, EBC.code), doc)
    kinds = [h["kind"] for h in view["history"]]
    assert kinds[-1] == "tmp_exhibition_change"
    assert view["form"]["venue"] == "杭州国际博览中心"


def test_another_enterprises_registration_answers_like_a_missing_one(env: TmpEnv) -> None:
    _fill(env)
    theirs = _doc(env, "Q-9")
    with env.db.session() as session, pytest.raises(NotFound):
        queries.detail(session, _caller(env, EBC.code), theirs)


def test_the_http_routes(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmpapi."))
    gw.prepare(broker=False)
    draft = tmp.registration_message(EBC, [tmp.Registration("W-1", app_status="1")])
    try:
        with TestClient(create_app(gw)) as client:
            mine = {"X-API-Key": EBC_KEY}
            taken = client.post("/v1/messages", content=draft, headers=mine)
            assert taken.status_code == 201, taken.text
            assert taken.json()["documents"][0]["kind"] == "tmp_exhibition"
            page = client.get("/v1/exhibitions", headers=mine).json()
            assert [r["cop_no"] for r in page["records"]] == ["W-1"]
            doc_id = page["records"][0]["document_id"]
            one = client.get(f"/v1/exhibitions/{doc_id}", headers=mine).json()
            assert one["pre_entry_no"].startswith("Z2900") and one["form"]["customsCode"] == "2900"
            theirs = {"X-API-Key": CARRIER_KEY}
            assert client.get("/v1/exhibitions", headers=theirs).json()["total"] == 0
            assert client.get(f"/v1/exhibitions/{doc_id}", headers=theirs).status_code == 404
            bad = client.get("/v1/exhibitions?filled_from=2026-12-02&filled_to=2026-12-01",
                             headers=mine)  # fmt: skip
            assert bad.status_code == 422 and "R-COM-7" in bad.text
            assert (
                client.get("/v1/exhibitions?status=saved&customs=2900", headers=mine).json()[
                    "total"
                ]
                == 1
            )
    finally:
        gw.db.dispose()


def test_operations_leave_out_what_an_open_application_or_a_use_forbids(env: TmpEnv) -> None:
    _fill(env)
    assert (kinds.CHANGE.name, kinds.DELETION.name) == registrations.APPLICATIONS

    def q3_operations() -> list[str]:
        (q3,) = [r for r in _search(env)["records"] if r["cop_no"] == "Q-3"]
        return list(q3["operations"])

    check = lambda _s, _row: "loaned-exhibit list L-1"  # noqa: E731
    registrations.USAGE_CHECKS.append(check)
    try:
        assert q3_operations() == ["change"]  # used: no deletion
    finally:
        registrations.USAGE_CHECKS.remove(check)
    env.submit(tmp.change_message(EBC, [tmp.Change("Q-3", exhibition_no="ZL1")]))
    assert q3_operations() == []  # a change is with customs: nothing else until it answers
