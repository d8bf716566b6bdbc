"""The resident ID card in the second reader, over real PC/SC, next to an enterprise IC card
in the first (R-BDR-1: residents log in by an ID-card read; R-BDR-2: masked ID number)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from devices import pcsc
from devices.idcard import (
    IdCardError,
    ResidentId,
    ResidentIdCard,
    check_digit,
    read_id_card,
    sample_photo,
    valid_id_number,
)
from devices.rig import CardRig, reader_name
from signers import get_suite
from signers.card import CardKey
from tests.card_fixtures import PIN, Identity

PERSON = ResidentId(
    name="黄秀兰",
    sex="2",
    ethnicity="壮",
    birth=date(1979, 3, 8),
    address="广西壮族自治区崇左市凭祥市友谊镇卡凤村卡凤屯12号",
    id_number="45148119790308" + "021" + check_digit("45148119790308021"),
    issuer="凭祥市公安局",
    valid_from=date(2019, 5, 20),
    valid_to=None,
    photo=sample_photo(),
)


def test_id_number_check_digit() -> None:
    assert check_digit("11010519491231002") == "X"  # the standard's own example
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("110105194912310021")


def test_read_the_id_card_in_the_second_reader(rig: CardRig, card_ids: dict) -> None:
    ident: Identity = card_ids["rsa"]
    ic_reader = rig.insert(0, ident.card("8930000000000601"))
    id_reader = rig.insert(1, ResidentIdCard(PERSON))
    assert id_reader == reader_name(1)
    person = read_id_card(id_reader)
    assert person == PERSON
    assert person.masked_id == f"451*****{PERSON.id_number[-3:]}"
    assert person.photo.startswith(b"\x89PNG") and person.valid_on(date(2026, 11, 22))
    assert person.as_dict()["valid_to"] == "长期" and "id_number" not in person.as_dict()
    # the enterprise card in the first reader still signs meanwhile
    assert CardKey(reader=ic_reader, pin=PIN).sign(b"x", get_suite("rsa-sha1"))


def test_id_card_errors(rig: CardRig, card_ids: dict) -> None:
    with pytest.raises(pcsc.NoCard):
        read_id_card(reader_name(1))
    rig.insert(1, card_ids["rsa"].card("8930000000000602"))  # an IC card is no ID card
    with pytest.raises(IdCardError, match="not a resident ID card"):
        read_id_card(reader_name(1))
    forged = replace(PERSON, id_number=PERSON.id_number[:17] + "0")
    if valid_id_number(forged.id_number):
        forged = replace(PERSON, id_number=PERSON.id_number[:17] + "1")
    rig.insert(1, ResidentIdCard(forged))
    with pytest.raises(IdCardError, match="check digit"):
        read_id_card(reader_name(1))
