"""Alerts (issue 17, item 3; docs/alerts.md): certificates expiring, dead letters, webhooks
that failed every try, customs silent, jobs overdue — each evaluated on a real database (and
the real broker for dead letters), shown as a Prometheus gauge, and told to the ops webhook
once when raised and once when cleared."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from gateway.core import alerts, history, jobs, webhooks
from gateway.core import config as config_mod
from gateway.core.alerts import AlertKind, AlertWatcher
from gateway.core.history import Change, Source
from gateway.core.models import Document, Receipt, utcnow
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.ecx import samples
from tests.stack import ERP_USERS, PLATFORM, Stack, erp_url, publish_as, raw_config, wait_value
from tests.transport_fixtures import unique_prefix
from tests.webhook_fixtures import SECRET, Receiver, free_port, secret_file

JOB = "apt-deadlines"


@pytest.fixture
def make_gateway(tmp_path: Path, keys_dir: Path, broker: None) -> Iterator[Any]:
    made: list[Gateway] = []

    def make(**alert_settings: Any) -> Gateway:
        raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
        raw["alerts"] = alert_settings
        raw["webhooks"] = {"backoff_seconds": 0.05, "backoff_max_seconds": 0.2}
        gw = Gateway(config_mod.from_dict(raw, tmp_path))
        gw.prepare(broker=False)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.db.dispose()


def _kinds(found: list[alerts.Alert]) -> set[tuple[str, str]]:
    return {(a.alert.value, a.subject) for a in found}


def _submit(gw: Gateway, no: str) -> int:
    ent = gw.config.enterprises[0]
    party = samples.Party(ent.code, ent.name, ent.dxp_id)
    result = gw.intake.submit(ent.code, samples.order_message(party, PLATFORM, [no]), "test")
    return int(result.documents[0].id)


def test_ic_cards_expiring_or_absent_are_alerts(
    tmp_path: Path, keys_dir: Path, broker: None, rig: Any
) -> None:
    """Over real PC/SC (an emulated card in a vpcd reader): the running gateway's card,
    expiring within the days, then pulled from the reader."""
    from devices.rig import reader_name
    from tests.card_fixtures import PIN, Identity

    number = "8930000000000101"
    ebc_id = Identity(keys_dir / "3301960Z01.key.pem", keys_dir / "3301960Z01.cert.pem")
    rig.insert(0, ebc_id.card(number))
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    raw["enterprises"][0]["key"] = {"backend": "card", "reader": reader_name(0),
                                    "card_number": number, "pin": PIN,
                                    "cert_file": str(ebc_id.cert_file)}  # fmt: skip
    raw["alerts"] = {"expiry_days": 100_000}
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare(broker=False)
    try:
        found = [a for a in alerts.cards_of(gw) if a.alert == AlertKind.CARD_PROBLEM]
        assert [a.subject for a in found] == [f"3301960Z01/{number}"]
        assert "expires in" in found[0].message and found[0].severity == "warning"
        rig.pull(0)
        found = [a for a in alerts.cards_of(gw) if a.alert == AlertKind.CARD_PROBLEM]
        assert len(found) == 1 and found[0].severity == "critical", found
    finally:
        gw.db.dispose()


def test_certificates_expiring_within_the_days_are_alerts(make_gateway: Any) -> None:
    gw = make_gateway(expiry_days=100_000)
    found = alerts.evaluate(gw, queues=[])
    codes = {e.code for e in gw.config.enterprises}
    assert _kinds(found) == {("certificate_expiring", c) for c in codes}
    assert all("expires on" in a.message and a.severity == "warning" for a in found)
    # past the end: expired, critical
    later = alerts.evaluate(gw, utcnow() + timedelta(days=10_000), queues=[])
    certs = [a for a in later if a.alert == AlertKind.CERTIFICATE_EXPIRING]
    assert len(certs) == 2 and all(
        a.severity == "critical" and "expired" in a.message for a in certs
    )
    assert alerts.evaluate(make_gateway(expiry_days=0), queues=[]) == []


def test_customs_silent_while_records_wait_and_no_receipt_comes(make_gateway: Any) -> None:
    gw = make_gateway(customs_silent_minutes=30)
    doc_id = _submit(gw, "EO-AL-0001")
    with gw.db.session() as session:
        doc = session.get(Document, doc_id)
        history.record(session, doc, Change(Status.SENT, Source.GATEWAY, "test"), gw.notifier)
    now = utcnow()
    assert not [a for a in alerts.evaluate(gw, now, queues=[]) if a.alert == "customs_silent"]
    later = now + timedelta(minutes=31)
    silent = [a for a in alerts.evaluate(gw, later, queues=[]) if a.alert == "customs_silent"]
    assert len(silent) == 1 and "1 record(s) sent" in silent[0].message
    assert "no receipt yet" in silent[0].message
    # a receipt inside the window: customs is not silent
    with gw.db.session() as session:
        session.add(
            Receipt(
                received_at=later - timedelta(minutes=5),
                sha256=hashlib.sha256(b"r").hexdigest(),
                raw=b"r",
                outcome="unmatched",
            )
        )
    assert not [a for a in alerts.evaluate(gw, later, queues=[]) if a.alert == "customs_silent"]


def test_jobs_overdue_by_their_own_limit(make_gateway: Any) -> None:
    gw = make_gateway(job_overdue_minutes={JOB: 10})
    now = utcnow()
    jobs.take_lease(gw.db, "test", now, timedelta(seconds=1), JOB)
    jobs.record_run(gw.db, JOB, now - timedelta(minutes=20), "test round")
    overdue = [a for a in alerts.evaluate(gw, now, queues=[]) if a.alert == "job_overdue"]
    assert [a.subject for a in overdue] == [JOB] and "over 10 min" in overdue[0].message
    jobs.record_run(gw.db, JOB, now - timedelta(minutes=2), "test round")
    assert alerts.evaluate(gw, now, queues=[]) == []


def test_dead_webhook_deliveries_are_an_alert(make_gateway: Any, tmp_path: Path) -> None:
    gw = make_gateway()
    ent = gw.config.enterprises[0]
    # the enterprise's webhook points at a port nobody listens on; one try only
    hooks = webhooks.WebhookOutbox(gw.config)
    hooks.enterprises[ent.code] = webhooks.Endpoint(
        f"http://127.0.0.1:{free_port()}/hook", SECRET.encode()
    )
    gw.notifier.webhooks = hooks
    _submit(gw, "EO-AL-0002")
    settings = config_mod.WebhooksConfig(max_attempts=1)
    worker = webhooks.WebhookWorker(gw.db, hooks, settings)
    assert worker.run_once() >= 1
    found = [a for a in alerts.evaluate(gw, queues=[]) if a.alert == "webhook_dead"]
    assert [a.subject for a in found] == [f"enterprise:{ent.code}"]


def test_dead_letters_on_the_broker_are_an_alert(make_stack: Any) -> None:
    stack: Stack = make_stack().start(sim=False)
    topo = stack.gateway.topology
    inbound = topo.inbound_queue
    code = next(iter(ERP_USERS))
    # refused and nobody to answer (no reply_to): dead-lettered at once
    publish_as(erp_url(code), topo.intake_exchange, "declaration", b"<x/>", message_id="al-1")
    found = wait_value(
        lambda: [a for a in alerts.evaluate(stack.gateway) if a.alert == "dead_letters"],
        lambda got: bool(got),
        60,
    )
    assert [a.subject for a in found] == [inbound] and "1 dead letter(s)" in found[0].message


def test_transitions_go_to_the_ops_webhook_once_and_show_as_gauges(
    make_gateway: Any, tmp_path: Path
) -> None:
    receiver = Receiver(SECRET.encode()).start()
    try:
        gw = make_gateway(
            job_overdue_minutes={JOB: 10},
            webhook=receiver.url,
            webhook_secret_file=str(secret_file(tmp_path)),
        )
        now = utcnow()
        clock = [now]
        watcher = AlertWatcher(gw, now=lambda: clock[0])
        jobs.take_lease(gw.db, "test", now, timedelta(seconds=1), JOB)
        jobs.record_run(gw.db, JOB, now - timedelta(minutes=20), "test round")

        first = watcher.round()
        assert first is not None and _kinds(first.raised) == {("job_overdue", JOB)}
        scraped = generate_latest().decode()
        assert f'gateway_alerts{{alert="job_overdue",subject="{JOB}"}} 1.0' in scraped
        assert 'gateway_alerts_active{alert="job_overdue"} 1.0' in scraped
        clock[0] = now + timedelta(seconds=1)  # the lease of the first round still ours
        again = watcher.round()
        assert again is not None and again.raised == [] and again.cleared == []
        with gw.db.session() as session:
            assert [a["subject"] for a in alerts.active(session)] == [JOB]

        jobs.record_run(gw.db, JOB, clock[0], "caught up")
        cleared = watcher.round()
        assert cleared is not None and [c["subject"] for c in cleared.cleared] == [JOB]
        scraped = generate_latest().decode()
        assert f'subject="{JOB}"' not in scraped
        assert 'gateway_alerts_active{alert="job_overdue"} 0.0' in scraped

        worker = webhooks.WebhookWorker(gw.db, gw.webhooks, gw.config.webhooks)
        posted = wait_value(
            lambda: (worker.run_once(), receiver.got)[1], lambda got: len(got) >= 2, 60
        )
    finally:
        receiver.stop()
    assert receiver.refused == []
    events = [(g["headers"]["X-Gateway-Event"], g["body"]["alert"]["subject"]) for g in posted]
    assert sorted(events) == [("alert.cleared", JOB), ("alert.raised", JOB)]
    cleared_body = next(g["body"] for g in posted if g["body"]["event"] == "alert.cleared")
    assert cleared_body["alert"]["raised_at"] and cleared_body["alert"]["cleared_at"]


def test_the_watcher_is_one_process_at_a_time(make_gateway: Any) -> None:
    gw = make_gateway()
    now = utcnow()
    assert jobs.take_lease(gw.db, "another-process", now, timedelta(minutes=5), alerts.JOB)
    assert AlertWatcher(gw, now=lambda: now).round() is None


def test_a_broker_outage_neither_clears_nor_raises_dead_letter_alerts(make_gateway: Any) -> None:
    gw = make_gateway()
    now = utcnow()
    dead = alerts.Alert(AlertKind.DEAD_LETTERS, "gateway.inbound", "1 dead letter(s)")
    with gw.db.session() as session:
        assert alerts.record(session, [dead], None, now).raised == [dead]
    with gw.db.session() as session:  # the broker did not answer: nothing known of them
        done = alerts.record(session, [], None, now, {AlertKind.DEAD_LETTERS})
        assert done.raised == [] and done.cleared == []
    with gw.db.session() as session:  # it answered: none left
        done = alerts.record(session, [], None, now)
        assert [c["subject"] for c in done.cleared] == ["gateway.inbound"]
