"""The card pool over real PC/SC: parallel signing on several emulated cards, failover when a
card is pulled, a timeout per signature, health checks and expiry warnings."""

from __future__ import annotations

import logging
import threading

import pytest

from devices.rig import CardRig, reader_name
from gateway.errors import ConfigError
from signers import check_signature, get_suite
from signers.card import CardKey, CardTimeout
from signers.pool import CardPool
from tests.card_fixtures import PIN, Identity

RSA = get_suite("rsa-sha256")


def _pool(
    rig: CardRig, ident: Identity, count: int, delay: float, made: list | None = None, **kw: object
) -> CardPool:
    keys = []
    for index in range(count):
        number = f"89300000000002{index:02d}"
        card = ident.card(number, delay=delay)
        rig.insert(index, card)
        if made is not None:
            made.append(card)
        keys.append(CardKey(card_number=number, pin=PIN, certificate=ident.certificate))
    return CardPool(keys, **kw)  # type: ignore[arg-type]


def test_four_cards_sign_in_parallel(rig: CardRig, card_ids: dict) -> None:
    ident: Identity = card_ids["rsa"]
    cards: list = []
    pool = _pool(rig, ident, 4, delay=0.05, made=cards)
    try:
        items = [f"SignedInfo {i}".encode() for i in range(24)]
        signatures = pool.sign_many(items, RSA)
        for data, sig in zip(items, signatures, strict=True):
            assert isinstance(sig, bytes)
            assert check_signature(ident.certificate, "rsa", "sha256", sig, data)
        assert all(s["signatures"] for s in pool.stats())  # every card took a share
        # In parallel: every card was signing while another one was (their busy spans
        # overlap), an ordering of events rather than a wall-clock limit (bench/cards.py
        # measures the rate).
        for n, card in enumerate(cards):
            others = [span for m, other in enumerate(cards) if m != n for span in other.busy]
            assert any(a < d and c < b for a, b in card.busy for c, d in others), n
    finally:
        pool.close()


def test_a_pulled_card_is_set_aside_and_the_job_moves_on(rig: CardRig, card_ids: dict) -> None:
    ident: Identity = card_ids["rsa"]
    pool = _pool(rig, ident, 2, delay=0.3)
    try:
        threading.Timer(0.1, rig.pull, args=(0,)).start()
        results = pool.sign_many([b"a", b"b"], RSA)  # one job on each card
        assert all(isinstance(r, bytes) for r in results)
        health = {h.card_number: h for h in pool.health()}
        assert not health["8930000000000200"].present and health["8930000000000201"].present
        rig.insert(0, ident.card("8930000000000200", delay=0.0))  # back in: usable again
        assert all(h.present for h in pool.health())
        assert all(s["healthy"] for s in pool.stats())
    finally:
        pool.close()


def test_timeout_per_signature(rig: CardRig, card_ids: dict) -> None:
    ident: Identity = card_ids["rsa"]
    rig.insert(0, ident.card("8930000000000300", delay=1.0))
    slow = CardPool([CardKey(reader=reader_name(0), pin=PIN)], timeout=0.2)
    try:
        with pytest.raises(CardTimeout) as info:
            slow.sign(b"data", RSA)
        assert info.value.retryable
    finally:
        slow.close()


def test_health_warns_before_the_certificate_expires(
    rig: CardRig, card_ids: dict, caplog: pytest.LogCaptureFixture
) -> None:
    ident: Identity = card_ids["rsa"]  # valid for 825 days
    rig.insert(0, ident.card("8930000000000400"))
    pool = CardPool([CardKey(reader=reader_name(0), pin=PIN)], warn_days=1000)
    try:
        with caplog.at_level(logging.WARNING):
            (health,) = pool.health()
        assert health.present and health.valid and health.days_left is not None
        assert health.problem == f"certificate expires in {health.days_left} days"
        assert "expires in" in caplog.text
        assert health.as_dict()["card_number"] == "8930000000000400"
    finally:
        pool.close()


def test_cards_of_a_pool_share_the_certificate(rig: CardRig, card_ids: dict) -> None:
    rig.insert(0, card_ids["rsa"].card("8930000000000501"))
    rig.insert(1, card_ids["rsa2"].card("8930000000000502"))
    keys = [CardKey(reader=reader_name(i), pin=PIN) for i in (0, 1)]
    with pytest.raises(ConfigError, match="same certificate"):
        CardPool(keys)
