"""The whole pipeline with card-configured enterprises: intake → sign on an emulated card over
real PC/SC → outbox → customs-sim verifies against the registered certificate → stored.
A pulled card leaves the declaration in signing_failed (retryable, nothing sent); `retry`
after the card is back completes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from devices.rig import CardRig, reader_name
from gateway.core import config as config_mod
from gateway.core.models import Message, Outbox
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from signers import verify
from tests.card_fixtures import PIN, Identity
from tests.stack import PLATFORM, Stack, raw_config
from tests.transport_fixtures import unique_prefix

pytestmark = pytest.mark.integration

EBC_CARD = "8930000000000101"
CARRIER_CARD = "8930000000000102"


@pytest.fixture
def card_stack(
    tmp_path: Path, keys_dir: Path, broker: None, rig: CardRig, card_ids: dict[str, Identity]
) -> Iterator[Stack]:
    ebc_id = Identity(keys_dir / "3301960Z01.key.pem", keys_dir / "3301960Z01.cert.pem")
    sm2_id = card_ids["sm2"]
    rig.insert(0, ebc_id.card(EBC_CARD))
    rig.insert(1, sm2_id.card(CARRIER_CARD))
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    ebc, carrier = raw["enterprises"]
    ebc["key"] = _card(
        reader=reader_name(0),
        card_number=EBC_CARD,
        pin=PIN,
        cert_file=str(ebc_id.cert_file),
        suite="rsa-sha1",
    )
    pin_file = tmp_path / "carrier.pin"
    pin_file.write_text(PIN + "\n")
    carrier["key"] = _card(
        card_number=CARRIER_CARD,
        pin_file=str(pin_file),
        cert_file=str(sm2_id.cert_file),
        suite="sm2-sm3",
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    cfg = config_mod.from_dict(raw, tmp_path)
    gw = Gateway(cfg)
    gw.prepare()
    stack = Stack(cfg, gw).start()
    yield stack
    stack.close()


def _card(**kw: Any) -> dict[str, Any]:
    return {"backend": "card", **kw}


def test_declarations_signed_on_cards_are_stored(card_stack: Stack, rig: CardRig) -> None:
    order = card_stack.submit(samples.order_message(card_stack.ebc, PLATFORM, ["EO2026112209001"]))
    way = card_stack.submit(
        samples.waybill_message(card_stack.carrier, [("YT2026112209001", card_stack.ebc)]),
        card_stack.carrier.code,
    )
    for doc in (*order.documents, *way.documents):
        assert card_stack.wait_status(doc.id, "stored") == "stored"
    with card_stack.gateway.db.session() as session:
        rsa_msg = session.get(Message, order.message_id)
        sm2_msg = session.get(Message, way.message_id)
        assert rsa_msg is not None and sm2_msg is not None
        rsa_signed, sm2_signed = rsa_msg.signed, sm2_msg.signed
    assert rsa_signed and b"rsa-sha1" in rsa_signed
    assert sm2_signed and b"sm2-sm3" in sm2_signed
    binding = card_stack.gateway.keyring.for_enterprise
    with card_stack.gateway.db.session() as session:
        from gateway.core.models import Enterprise

        carrier = session.scalar(
            select(Enterprise).where(Enterprise.code == card_stack.carrier.code)
        )
        assert carrier is not None
        key, _suite = binding(carrier)
        ebc = session.scalar(select(Enterprise).where(Enterprise.code == card_stack.ebc.code))
        assert ebc is not None and ebc.key_binding["card_number"] == EBC_CARD
        for bound in (ebc.key_binding, carrier.key_binding):  # the PIN is never stored
            assert "pin" not in bound and PIN not in str(bound)
    verify(sm2_signed, trusted=key.certificate)


def test_pulled_card_leaves_the_declaration_retryable_and_unsent(
    card_stack: Stack, rig: CardRig, keys_dir: Path
) -> None:
    rig.pull(0)
    order = card_stack.submit(samples.order_message(card_stack.ebc, PLATFORM, ["EO2026112209002"]))
    doc_id = order.documents[0].id
    assert card_stack.wait_status(doc_id, "signing_failed") == "signing_failed"
    with card_stack.gateway.db.session() as session:
        msg = session.get(Message, order.message_id)
        assert msg is not None and msg.signed is None and msg.error
        assert "card" in msg.error and "retry" in msg.error
        outbox = session.scalars(
            select(Outbox).where(Outbox.gateway_message_id == order.message_id)
        ).all()
        assert outbox == []  # never half-sent
    ebc_id = Identity(keys_dir / "3301960Z01.key.pem", keys_dir / "3301960Z01.cert.pem")
    rig.insert(0, ebc_id.card(EBC_CARD))
    assert card_stack.gateway.signer.retry(order.message_id)
    assert card_stack.wait_status(doc_id, "stored") == "stored"


def test_cards_health_through_the_cli_and_the_api(
    card_stack: Stack, rig: CardRig, tmp_path: Path
) -> None:
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from gateway.core.api import create_app
    from gateway.core.cli import main

    result = CliRunner().invoke(
        main, ["--config", str(tmp_path / "config.yaml"), "cards", "--json"]
    )
    rows = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert {r["card_number"] for r in rows} == {EBC_CARD, CARRIER_CARD}
    assert all(r["present"] and r["valid"] and r["days_left"] > 800 for r in rows)

    result = CliRunner().invoke(
        main, ["--config", str(tmp_path / "config.yaml"), "cards", "--warn-days", "1000"]
    )
    assert result.exit_code == 1 and "expires in" in result.output  # warned before expiry

    client = TestClient(create_app(card_stack.gateway))
    assert client.get("/v1/cards", headers={"X-API-Key": "test-key-ebc"}).status_code == 401
    rig.pull(1)
    answer = client.get("/v1/cards", headers={"X-API-Key": "test-admin-key"})
    assert answer.status_code == 200
    by_number = {r.get("card_number"): r for r in answer.json()}
    assert by_number[EBC_CARD]["present"] is True
    carrier = [r for r in answer.json() if r["enterprise"] == card_stack.carrier.code]
    assert carrier and carrier[0]["present"] is False and carrier[0]["problem"]


def test_a_pool_of_cards_signs_a_batch_in_parallel(
    tmp_path: Path, keys_dir: Path, broker: None, rig: CardRig
) -> None:
    ebc_id = Identity(keys_dir / "3301960Z01.key.pem", keys_dir / "3301960Z01.cert.pem")
    numbers = ["8930000000000111", "8930000000000112"]
    cards = [ebc_id.card(number, delay=0.2) for number in numbers]
    for index, card in enumerate(cards):
        rig.insert(index, card)
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    raw["enterprises"][0]["key"] = _card(
        cards=numbers, pin=PIN, cert_file=str(ebc_id.cert_file), suite="rsa-sha1"
    )
    cfg = config_mod.from_dict(raw, tmp_path)
    gw = Gateway(cfg)
    gw.prepare()
    stack = Stack(cfg, gw)
    try:
        orders = [
            stack.submit(samples.order_message(stack.ebc, PLATFORM, [f"EO20261122091{i:02d}"]))
            for i in range(6)
        ]
        gw.keyring.for_enterprise(_enterprise(gw, stack.ebc.code))  # cards opened beforehand
        stack.start()  # the signing worker finds all six pending at once
        for order in orders:
            stack.wait_status(order.documents[0].id, {"signed", "sent", "declaring", "stored"})
        assert [card.signatures for card in cards] == [3, 3]
        # In parallel: the two cards were signing at the same time (their busy spans
        # overlap), an ordering of events rather than a wall-clock limit on a shared machine.
        first, second = (card.busy for card in cards)
        assert any(a < d and c < b for a, b in first for c, d in second), (first, second)
        for order in orders:
            assert stack.wait_status(order.documents[0].id, "stored") == "stored"
    finally:
        stack.close()


def _enterprise(gw: Gateway, code: str) -> Any:
    from gateway.core.models import Enterprise

    with gw.db.session() as session:
        return session.scalar(select(Enterprise).where(Enterprise.code == code))


def test_card_pins_never_reach_the_logs(
    tmp_path: Path, keys_dir: Path, broker: None, rig: CardRig, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 6, item 4: a PIN used to sign, and a wrong one refused by the card, are in no
    log line (every logger at DEBUG). The PINs are long and odd so no timestamp matches."""
    import logging

    good_pin, wrong_pin = "73105928", "64829317"
    ident = Identity(keys_dir / "3301960Z01.key.pem", keys_dir / "3301960Z01.cert.pem")
    rig.insert(0, ident.card(EBC_CARD, pin=good_pin))
    raw = raw_config(tmp_path, keys_dir, prefix=unique_prefix())
    pin_file = tmp_path / "ebc.pin"
    pin_file.write_text(good_pin + "\n")
    raw["enterprises"][0]["key"] = _card(
        reader=reader_name(0),
        card_number=EBC_CARD,
        pin_file=str(pin_file),
        cert_file=str(ident.cert_file),
        suite="rsa-sha1",
    )
    gw = Gateway(config_mod.from_dict(raw, tmp_path))
    gw.prepare()
    stack = Stack(gw.config, gw)
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    saved = {lg.name: lg.level for lg in loggers}
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
    caplog.set_level(logging.DEBUG)
    try:
        stack.start()
        first = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112209101"]))
        assert stack.wait_status(first.documents[0].id, "stored") == "stored"
        pin_file.write_text(wrong_pin + "\n")  # re-read per signature; the card refuses it
        second = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112209102"]))
        second_id = second.documents[0].id
        assert stack.wait_status(second_id, "signing_failed") == "signing_failed"
        assert "PIN" in (stack.view(second_id)["status_info"] or "")
    finally:
        stack.close()
        for lg in loggers:
            lg.setLevel(saved[lg.name])
    logged = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    assert len(caplog.records) > 20, "the run logged next to nothing: capture is broken"
    assert good_pin not in logged and wrong_pin not in logged
