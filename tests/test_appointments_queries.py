"""R-APT-10 queries (type A/B, status, 15-day windows, pre-entry no., receipts, batch delete)
and R-APT-11 port working hours, through the functions and the HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.appointments import queries, refdata
from gateway.appointments import samples as apt
from gateway.appointments.codes import AptStatus
from gateway.core.api import create_app
from gateway.core.enterprises import Caller
from gateway.core.runtime import Gateway
from gateway.errors import InvalidMessage
from tests.apt_fixtures import ADVANCED_CONSIGNEE, EBC, GENERAL_CONSIGNEE, AptEnv, bj, make_env
from tests.stack import CARRIER_KEY, EBC_KEY, make_config

ADMIN = Caller(None, None, True)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AptEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _caller(env: AptEnv) -> Caller:
    return Caller(1, EBC.code)


def test_search_by_type_status_windows_and_pre_no_R_APT_10(env: AptEnv) -> None:
    a = env.request("Q1", "2026-12-05 10:00", "2026-11-20 09:00")
    env.request("Q2", "2026-12-12 10:00", "2026-11-27 09:00", consignee=GENERAL_CONSIGNEE)
    env.set_status(a, AptStatus.BOOKED)
    with env.db.session() as s:
        me = _caller(env)
        assert len(queries.search(s, me, enterprise_type="A")) == 2
        booked = queries.search(s, me, enterprise_type="A", status="booked")
        assert [r["cop_no"] for r in booked] == ["Q1"]
        window = queries.Window(bj("2026-12-10 00:00"), bj("2026-12-25 00:00"))
        assert [r["cop_no"] for r in queries.search(s, me, enterprise_type="A",
                                                    appointment=window)] == ["Q2"]  # fmt: skip
        by_b = queries.search(s, me, enterprise_type="B", consignee=ADVANCED_CONSIGNEE)
        assert [r["cop_no"] for r in by_b] == ["Q1"]
        pre_no = booked[0]["pre_no"]
        assert queries.search(s, me, enterprise_type="A", pre_no=pre_no)[0]["cop_no"] == "Q1"
        assert queries.search(s, Caller(2, "3301980W02"), enterprise_type="A") == []


def test_windows_of_15_days_and_type_b_needs_the_consignee_R_APT_10(env: AptEnv) -> None:
    with env.db.session() as s:
        me = _caller(env)
        ok = queries.Window(bj("2026-12-01 00:00"), bj("2026-12-16 00:00"))
        queries.search(s, me, enterprise_type="A", applied=ok)
        too_long = queries.Window(bj("2026-12-01 00:00"), bj("2026-12-16 00:01"))
        with pytest.raises(InvalidMessage) as info:
            queries.search(s, me, enterprise_type="B", appointment=too_long)
        found = {(v.rule, v.field) for v in info.value.violations}
        assert found == {("R-APT-10", "start_to"), ("R-APT-10", "consignee")}


NONE = queries.Window()


def _cops(rows: list[dict[str, Any]]) -> list[object]:
    return [r["cop_no"] for r in rows]


def test_a_window_given_by_one_end_is_bounded_too_R_APT_10(env: AptEnv) -> None:
    """A missing end is now, a missing start is the end − 15 days; longer is refused."""
    env.request("O1", "2026-12-05 10:00", "2026-11-20 09:00")
    env.request("O2", "2026-12-12 10:00", "2026-11-27 09:00")
    now = bj("2026-12-12 09:00")
    with env.db.session() as s:
        me = _caller(env)

        def search(
            applied: queries.Window, at: datetime = now, appointment: queries.Window = NONE
        ) -> list[object]:
            rows = queries.search(
                s, me, enterprise_type="A", applied=applied, appointment=appointment, now=at
            )
            return _cops(rows)

        def refused(
            at: datetime = now, applied: queries.Window = NONE, appointment: queries.Window = NONE
        ) -> list[tuple[str, str]]:
            with pytest.raises(InvalidMessage) as info:
                search(applied, at, appointment)
            return [(v.rule, v.field) for v in info.value.violations]

        # start alone: up to now, at most 15 days back
        assert search(queries.Window(bj("2026-11-27 09:00"))) == ["O2"]
        late = bj("2026-12-12 09:01")
        assert refused(late, applied=queries.Window(bj("2026-11-27 09:00"))) == [
            ("R-APT-10", "applied_from")
        ]
        years = queries.Window(bj("2020-01-01 00:00"))  # the audit's probe P2
        assert refused(applied=years) == [("R-APT-10", "applied_from")]
        # end alone: the 15 days before it
        assert search(queries.Window(None, bj("2026-12-12 09:00"))) == ["O2"]
        assert search(queries.Window(None, bj("2026-12-12 09:01"))) == []
        assert search(queries.Window(None, bj("2026-12-05 09:00"))) == ["O2", "O1"]
        # the appointment time the same way; a start after now needs its end
        starts = queries.Window(bj("2026-12-10 00:00"))
        assert refused(bj("2026-12-25 00:01"), appointment=starts) == [("R-APT-10", "start_from")]
        assert search(queries.Window(), bj("2026-12-25 00:00"), appointment=starts) == ["O2"]
        found = refused(appointment=queries.Window(bj("2026-12-13 00:00")))
        assert found == [("R-APT-10", "start_from")]


def test_receipts_per_application_and_batch_delete_of_saved_only_R_APT_10(env: AptEnv) -> None:
    sent = env.request("R1", "2026-12-05 10:00", "2026-11-20 09:00")
    saved = env.request("R2", "2026-12-05 10:00", "2026-11-20 09:00", app_status="1")
    env.set_status(sent, AptStatus.BOOKED)
    with env.db.session() as s:
        got = queries.receipts(s, _caller(env), sent)
        assert [r["status"] for r in got] == ["booked"]
        with pytest.raises(InvalidMessage) as info:
            queries.batch_delete(s, _caller(env), [saved, sent])
        assert [v.value for v in info.value.violations] == [f"{sent}: booked"]
    with env.db.session() as s:
        assert queries.batch_delete(s, _caller(env), [saved]) == [saved]
    assert env.status(saved) == "deleted"


def test_port_hours_only_working_days_R_APT_11(env: AptEnv) -> None:
    env.load({"calendar": [{"port": "2233", "day": "2026-12-02", "working": True,
                            "work_start": "09:00", "work_end": "12:00"}]})  # fmt: skip
    with env.db.session() as s:
        days = queries.port_hours(s, bj("2026-11-30 00:00").date(), bj("2026-12-06 00:00").date(),
                                  "2233")  # fmt: skip
        assert [d["date"] for d in days] == ["2026-11-30"] + [f"2026-12-0{n}" for n in range(1, 5)]
        assert {d["date"]: d["start"] for d in days}["2026-12-02"] == "09:00"
        assert "2026-12-05" not in {d["date"] for d in days}
        with pytest.raises(InvalidMessage) as info:
            queries.port_hours(s, bj("2026-12-01 00:00").date(), bj("2026-12-17 00:00").date())
        assert info.value.violations[0].rule == "R-APT-11"


def test_the_http_routes(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="aptapi."))
    gw.prepare(broker=False)
    with gw.db.session() as s:
        refdata.load_sample(s)
    gw.intake.submit(
        EBC.code,
        apt.request_message(EBC, [apt.Request("H1", bj("2026-12-05 10:00"), app_status="1")]),
        "test",
        at=bj("2026-11-20 09:00"),
    )
    with TestClient(create_app(gw)) as client:
        mine = {"X-API-Key": EBC_KEY}
        rows = client.get("/v1/appointments?type=A", headers=mine).json()
        assert [r["cop_no"] for r in rows] == ["H1"]
        other = client.get("/v1/appointments?type=A", headers={"X-API-Key": CARRIER_KEY})
        assert other.json() == []
        bad = client.get(
            "/v1/appointments?type=A&applied_from=2026-11-01T00:00&applied_to=2026-11-30T00:00",
            headers=mine,
        )
        assert bad.status_code == 422 and "R-APT-10" in bad.text
        # one end alone is bounded too: a missing end is now, a missing start end − 15 days
        years = client.get("/v1/appointments?type=A&applied_from=2020-01-01", headers=mine)
        assert years.status_code == 422
        (v,) = years.json()["violations"]
        assert (v["rule"], v["field"]) == ("R-APT-10", "applied_from")
        assert "15 days" in v["message"] and "applied_to" in v["message"]
        to = "/v1/appointments?type=A&applied_to="
        assert [r["cop_no"] for r in client.get(to + "2026-12-05T09:00", headers=mine).json()] == [
            "H1"
        ]
        assert client.get(to + "2026-12-05T09:01", headers=mine).json() == []
        hours = client.get("/v1/port-hours?from=2026-12-01&to=2026-12-07&port=2233", headers=mine)
        assert len(hours.json()) == 5
        doc_id = rows[0]["document_id"]
        deleted = client.post("/v1/appointments/batch-delete", json={"ids": [doc_id]}, headers=mine)
        assert deleted.json() == {"deleted": [doc_id]}
    gw.db.dispose()
