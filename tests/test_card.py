"""The IC-card key backend over real PC/SC: pyscard → pcscd → vpcd → our card emulator.

Every error case a declaration can meet at the card: wrong PIN, locked card, expired
certificate, card pulled mid-signature, no card, reader gone, another card (R-COM-3). Each is
a SigningError (retryable) with a reason.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from devices.rig import CardRig, reader_name
from gateway.errors import ConfigError, SigningError
from signers import check_signature, get_suite, sign, verify
from signers.card import (
    CardAbsent,
    CardKey,
    CardLocked,
    CardMismatch,
    CardRemoved,
    CertificateExpired,
    ReaderGone,
    WrongPin,
)
from tests.card_fixtures import PIN, Identity

ORDER = b"""<ceb:CEB303Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x">
<ceb:Order><ceb:OrderHead><ceb:orderNo>SO-1</ceb:orderNo></ceb:OrderHead></ceb:Order>
</ceb:CEB303Message>"""


@pytest.mark.parametrize("suite", ["rsa-sha1", "rsa-sha256"])
def test_rsa_signature_on_the_card_verifies(rig: CardRig, card_ids: dict, suite: str) -> None:
    ident: Identity = card_ids["rsa"]
    reader = rig.insert(0, ident.card("8930000000000001"))
    key = CardKey(reader=reader, pin=PIN, certificate=ident.certificate)
    data = b"<ds:SignedInfo>canonical bytes</ds:SignedInfo>"
    s = get_suite(suite)
    signature = key.sign(data, s)
    assert check_signature(key.certificate, "rsa", s.hash_name, signature, data)
    assert key.card_number == "8930000000000001"
    assert key.key_type == "rsa"
    assert PIN not in key.describe() and PIN not in repr(key)


def test_sm2_sm3_signature_on_the_card_verifies_in_xml(rig: CardRig, card_ids: dict) -> None:
    ident: Identity = card_ids["sm2"]
    rig.insert(1, ident.card("8930000009753172"))
    key = CardKey(card_number="8930000009753172", pin=PIN)  # found by number in any reader
    assert key.reader == reader_name(1)
    signed = sign(_root(), key, get_suite("sm2-sm3"))
    verified = verify(signed, trusted=ident.certificate)
    assert verified is not None
    # a long SignedInfo goes to the card in chained APDUs
    data = b"x" * 1000
    assert check_signature(
        key.certificate, "sm2", "sm3", key.sign(data, get_suite("sm2-sm3")), data
    )


def test_rsa_xml_signature_verifies_with_xmlsec1(
    rig: CardRig, card_ids: dict, tmp_path: Path
) -> None:
    import subprocess

    ident: Identity = card_ids["rsa"]
    reader = rig.insert(0, ident.card("8930000000000001"))
    key = CardKey(reader=reader, pin=PIN)
    signed = sign(_root(), key, get_suite("rsa-sha256"))
    (tmp_path / "signed.xml").write_bytes(signed)
    result = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--pubkey-cert-pem",
            str(ident.cert_file),
            str(tmp_path / "signed.xml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_wrong_pin_is_typed_retryable_and_never_presented_twice(
    rig: CardRig, card_ids: dict, tmp_path: Path
) -> None:
    ident: Identity = card_ids["rsa"]
    card = ident.card("8930000000000001")
    reader = rig.insert(0, card)
    pin_file = tmp_path / "pin"
    pin_file.write_text("864213\n")
    key = CardKey(reader=reader, pin_file=pin_file)
    with pytest.raises(WrongPin, match="2 tries left") as info:
        key.sign(b"data", get_suite("rsa-sha1"))
    assert isinstance(info.value, SigningError) and info.value.retryable
    assert "864213" not in info.value.message
    with pytest.raises(WrongPin, match="not presented again"):
        key.sign(b"data", get_suite("rsa-sha1"))
    assert card.tries_left == 2  # the refused PIN was not tried again
    pin_file.write_text(PIN + "\n")  # ops correct the PIN file; no restart needed
    assert key.sign(b"data", get_suite("rsa-sha1"))
    assert card.tries_left == 3


def test_three_wrong_pins_lock_the_card(rig: CardRig, card_ids: dict, tmp_path: Path) -> None:
    ident: Identity = card_ids["rsa"]
    card = ident.card("8930000000000001")
    reader = rig.insert(0, card)
    pin_file = tmp_path / "pin"
    for wrong, error in (("111111", WrongPin), ("222222", WrongPin), ("333333", CardLocked)):
        pin_file.write_text(wrong)
        key = CardKey(reader=reader, pin_file=pin_file)
        with pytest.raises(error):  # the third wrong PIN locks the card
            key.sign(b"data", get_suite("rsa-sha1"))
    assert card.locked
    pin_file.write_text(PIN)  # even the right PIN cannot open a locked card
    with pytest.raises(CardLocked, match="locked") as info:
        CardKey(reader=reader, pin_file=pin_file).sign(b"data", get_suite("rsa-sha1"))
    assert info.value.retryable and info.value.status == "signing_failed"


def test_expired_certificate_is_refused_before_the_card_signs(rig: CardRig, card_ids: dict) -> None:
    card = card_ids["expired"].card("8930000009753179")
    reader = rig.insert(0, card)
    key = CardKey(reader=reader, pin=PIN)
    with pytest.raises(CertificateExpired, match="renew"):
        key.sign(b"data", get_suite("rsa-sha1"))
    assert card.signatures == 0
    health = key.health()
    assert health.present and not health.valid and health.days_left is not None
    assert health.days_left < 0


def test_card_pulled_mid_signature(rig: CardRig, card_ids: dict) -> None:
    ident: Identity = card_ids["rsa"]
    reader = rig.insert(0, ident.card("8930000000000001", delay=1.0))
    key = CardKey(reader=reader, pin=PIN)
    puller = threading.Timer(0.3, rig.pull, args=(0,))
    puller.start()
    started = time.monotonic()
    with pytest.raises(CardRemoved, match="pulled") as info:
        key.sign(b"data", get_suite("rsa-sha1"))
    assert time.monotonic() - started < 1.0  # the pull is noticed at once
    assert info.value.retryable
    puller.join()  # pcscd has seen the empty reader
    with pytest.raises(CardAbsent):  # still out
        key.sign(b"data", get_suite("rsa-sha1"))
    rig.insert(0, ident.card("8930000000000001"))  # put back: signing goes on
    assert key.sign(b"data", get_suite("rsa-sha1"))


def test_no_card_and_unknown_reader(rig: CardRig, card_ids: dict) -> None:
    with pytest.raises(CardAbsent):
        CardKey(reader=reader_name(2), pin=PIN)
    with pytest.raises(CardAbsent):
        CardKey(card_number="8930000000000404", pin=PIN)
    with pytest.raises(ReaderGone, match="not connected"):
        CardKey(reader="Missing Reader 00 00", pin=PIN)


def test_another_card_in_the_reader_is_refused(rig: CardRig, card_ids: dict) -> None:
    ident: Identity = card_ids["rsa"]
    reader = rig.insert(0, ident.card("8930000000000001"))
    with pytest.raises(CardMismatch, match="不一致"):
        CardKey(reader=reader, card_number="8930000000000099", pin=PIN)
    with pytest.raises(CardMismatch, match="registered"):
        CardKey(reader=reader, pin=PIN, certificate=card_ids["rsa2"].certificate)
    key = CardKey(reader=reader, card_number="8930000000000001", pin=PIN)
    rig.insert(0, card_ids["rsa2"].card("8930000000000001"))  # same number, other key
    with pytest.raises(CardMismatch, match="R-COM-3"):
        key.sign(b"data", get_suite("rsa-sha1"))


def test_suite_must_fit_the_card(rig: CardRig, card_ids: dict) -> None:
    reader = rig.insert(0, card_ids["rsa"].card("8930000000000001"))
    with pytest.raises(ConfigError):
        CardKey(reader=reader, pin=PIN).sign(b"data", get_suite("sm2-sm3"))
    with pytest.raises(ConfigError, match="pin"):
        CardKey(reader=reader)


READER_GONE = """
import sys
from pathlib import Path
from devices.rig import CardRig, card_from_files
from signers import get_suite
from signers.card import CardKey, ReaderGone
key_file, cert_file, work = sys.argv[1:4]
with CardRig(Path(work), slots=2) as rig:
    reader = rig.insert(0, card_from_files("8930000000000001", key_file, cert_file, "1"))
    key = CardKey(reader=reader, pin="1")
    key.sign(b"data", get_suite("rsa-sha1"))
    rig.daemon.stop()  # the PC/SC service (and with it every reader) goes away
    try:
        key.sign(b"data", get_suite("rsa-sha1"))
    except ReaderGone as exc:
        print("ReaderGone", exc.retryable, exc.status)
"""


def test_reader_gone_when_the_pcsc_service_stops(card_ids: dict, tmp_path: Path) -> None:
    """In a child process: libpcsclite picks its pcscd once per process, and this test stops
    its daemon."""
    import subprocess
    import sys

    ident: Identity = card_ids["rsa"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            READER_GONE,
            str(ident.key_file),
            str(ident.cert_file),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert "ReaderGone True signing_failed" in result.stdout, result.stderr[-2000:]


def _root():  # type: ignore[no-untyped-def]
    from gateway import xmlsafe

    return xmlsafe.parse(ORDER).getroot()
