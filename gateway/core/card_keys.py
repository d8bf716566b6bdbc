"""From configuration to a card key backend (backend "card")."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cryptography import x509

from gateway.core.config import KeyConfig
from gateway.errors import ConfigError
from signers.card import CardError, CardKey
from signers.pool import CardPool

log = logging.getLogger(__name__)


def card_key_config(bind: dict[str, Any], configured: KeyConfig | None) -> KeyConfig:
    """The KeyConfig of a card binding kept in the database. The PIN itself is never stored
    there: it comes from the configuration (`configured`), or from `pin_file`."""
    if configured is not None and configured.backend == "card":
        return configured
    return KeyConfig(
        backend="card",
        cert_file=Path(bind["cert_file"]) if bind.get("cert_file") else None,
        suite=str(bind.get("suite", "rsa-sha1")),
        reader=bind.get("reader"),
        card_number=bind.get("card_number"),
        pin_file=Path(bind["pin_file"]) if bind.get("pin_file") else None,
        cards=tuple(bind.get("cards") or ()),
        card_timeout=float(bind.get("card_timeout") or 10.0),
    )


def load_card_key(key: KeyConfig) -> CardKey | CardPool:
    """A CardKey for the binding, or a CardPool when it lists several `cards`; the
    registered certificate (`cert_file`) must be the card's."""
    registered = None
    if key.cert_file is not None:
        try:
            registered = x509.load_pem_x509_certificate(Path(key.cert_file).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the registered certificate {key.cert_file}") from exc
    if key.cards:
        return CardPool(_present_cards(key, registered), timeout=key.card_timeout)
    return CardKey(
        reader=key.reader,
        card_number=key.card_number,
        pin=key.pin,
        pin_file=key.pin_file,
        certificate=registered,
    )


def _present_cards(key: KeyConfig, registered: x509.Certificate | None) -> list[CardKey]:
    """The pool's cards that are in a reader now; at least one must be (else its error)."""
    cards, errors = [], []
    for number in key.cards:
        try:
            cards.append(
                CardKey(
                    card_number=number, pin=key.pin, pin_file=key.pin_file, certificate=registered
                )
            )
        except CardError as exc:
            log.warning("card %s of the pool is left out: %s", number, exc.message)
            errors.append(exc)
    if not cards:
        raise errors[0]
    return cards
