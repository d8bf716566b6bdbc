"""The border declaration's pure rules: the biometric rule in every mode × transport cell of
both forms (R-BDR-6), who waits for the delegating residents (R-BDR-7), the form's rules
naming field and rule (R-BDR-4, R-BDR-5), and the messages against our own XSDs (R-COM-1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.border import messages, rules, samples
from gateway.border.codes import BusinessMode, DeclarantType, Form, TransportMode
from gateway.core import registry
from gateway.core.intake import check
from gateway.errors import InvalidMessage

registry.ensure_installed()

MODES = list(BusinessMode)
TRANSPORTS = list(TransportMode)
SKIPS = {TransportMode.RAIL, TransportMode.WATER}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_entry_biometric_rule_in_every_cell(mode: BusinessMode, transport: TransportMode) -> None:
    """R-BDR-6: 区内交易 skips; 落地加工/原装提离 skip by rail or water; the rest need it."""
    expected = not (mode is BusinessMode.IN_ZONE or transport in SKIPS)
    assert rules.biometric_required(Form.ENTRY, mode, transport) is expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_import_always_needs_the_biometric_check(
    mode: BusinessMode, transport: TransportMode
) -> None:
    """R-BDR-6: an import declaration has no skip rule (manual §5.2)."""
    assert rules.biometric_required(Form.IMPORT, mode, transport) is True


@pytest.mark.parametrize("who", list(DeclarantType))
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_who_waits_for_delegates(who: DeclarantType, transport: TransportMode) -> None:
    """R-BDR-7: representatives wait (entry: road or other only; import: any transport);
    a resident's own never does."""
    rep = who is not DeclarantType.RESIDENT
    road = transport in (TransportMode.ROAD, TransportMode.OTHER)
    assert rules.needs_delegate_authentication(Form.ENTRY, who, transport) is (rep and road)
    assert rules.needs_delegate_authentication(Form.IMPORT, who, transport) is rep


def _entry(**head: str) -> dict:
    return samples.filled(
        Form.ENTRY, samples.entry_form(), samples.resident(), "202601000000000001", **head
    )


def _refusals(form: Form, values: dict) -> dict[str, str]:
    return {v.field: v.rule for v in rules.check_form(form, values)}


def test_the_samples_pass() -> None:
    assert rules.check_form(Form.ENTRY, _entry()) == []
    imp = samples.filled(
        Form.IMPORT, samples.import_form(), samples.representative(), "202603000000000001"
    )
    assert rules.check_form(Form.IMPORT, imp) == []


def test_totals_must_be_the_sums_of_the_lines() -> None:
    values = _entry(totalAmount="1.00", grossWeight="1", netWeight="2")
    found = _refusals(Form.ENTRY, values)
    assert found["EntryDeclaration/totalAmount"] == rules.TOTALS_RULE
    assert found["EntryDeclaration/grossWeight"] == rules.TOTALS_RULE
    assert found["EntryDeclaration/netWeight"] == rules.TOTALS_RULE


def test_a_line_amount_is_quantity_times_price() -> None:
    values = _entry()
    values["goods"][0]["amount"] = "999.99"
    found = rules.check_form(Form.ENTRY, values)
    line = [v for v in found if v.field == "EntryDeclaration/EntryGoods[1]/amount"]
    assert line and line[0].rule == rules.TOTALS_RULE and "350.00" in line[0].message


def test_codes_and_mode_dependent_fields_are_named() -> None:
    values = _entry(
        businessMode="02",
        transportMode="7",
        tradeCountry="XXX",
        currency="USD",
        processingUscc="",
        vehicleType="3",
    )
    found = _refusals(Form.ENTRY, values)
    for field in (
        "transportMode",
        "tradeCountry",
        "currency",
        "processingUscc",
        "processingName",
        "vehicleType",
    ):
        assert f"EntryDeclaration/{field}" in found, field
    assert found["EntryDeclaration/transportMode"] == rules.ENTRY_RULE
    assert "EntryDeclaration/businessMode" in _refusals(Form.ENTRY, _entry(businessMode="04"))


def test_road_needs_vehicles_and_the_head_plate_among_them() -> None:
    values = _entry()
    values["vehicles"] = []
    assert "EntryDeclaration/Vehicle" in _refusals(Form.ENTRY, values)
    values = _entry(vehicleNo="云K99999")
    assert "EntryDeclaration/vehicleNo" in _refusals(Form.ENTRY, values)


def test_a_representative_names_the_organisation_and_its_residents() -> None:
    values = samples.filled(
        Form.IMPORT,
        samples.import_form(),
        samples.representative(members=()),
        "202603000000000001",
        orgName="",
    )
    found = _refusals(Form.IMPORT, values)
    assert found["ImportDeclaration/orgName"] == rules.IMPORT_RULE
    assert found["ImportDeclaration/Delegate"] == rules.DELEGATION_RULE
    coop = samples.filled(
        Form.IMPORT,
        samples.import_form(),
        samples.cooperative(),
        "202603000000000001",
        orgUscc="123",
    )
    assert "ImportDeclaration/orgUscc" in _refusals(Form.IMPORT, coop)


def test_an_import_links_only_an_entry_number() -> None:
    imp = samples.filled(
        Form.IMPORT,
        samples.import_form(),
        samples.resident(),
        "202603000000000001",
        entryDeclNo="860992205241200005",
    )
    assert "ImportDeclaration/entryDeclNo" in _refusals(Form.IMPORT, imp)
    imp["head"]["entryDeclNo"] = "860952206021100002"
    assert rules.check_form(Form.IMPORT, imp) == []


def test_a_change_needs_the_original_number_and_a_reason() -> None:
    found = _refusals(Form.ENTRY, _entry(declType="01"))
    assert found["EntryDeclaration/origDeclNo"] == rules.STATE_RULE
    assert found["EntryDeclaration/reason"] == rules.STATE_RULE


def test_the_id_number_is_never_echoed_in_a_refusal() -> None:
    found = rules.check_form(Form.ENTRY, _entry(idNumber="12345"))
    (bad,) = [v for v in found if v.field.endswith("/idNumber")]
    assert bad.value is None


AT = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "build", [samples.entry_message, samples.import_message, samples.revoke_message]
)
def test_messages_are_valid_against_our_xsds_and_read_back(build) -> None:
    checked = check(build(AT))
    values = messages.read(checked.records[0].element)
    assert values["head"]["preEntryNo"].startswith("2026")
    assert checked.kind.name.startswith("brd_")


def test_the_biometric_outcome_travels_without_biometric_data() -> None:
    root = check(samples.import_message(AT)).root
    text = root.xpath("string(//*[local-name()='BiometricCheck'])")
    assert "face" in text and "T-860901-01" in text
    names = {child.tag.split("}")[-1] for child in root.iter() if isinstance(child.tag, str)}
    assert not names & {"template", "image", "photo", "feature"}


def test_a_message_breaking_the_xsd_is_refused_naming_the_path() -> None:
    data = samples.entry_message(AT).replace(b"<bdr:packages>12<", b"<bdr:packages>many<")
    with pytest.raises(InvalidMessage) as info:
        check(data)
    assert any("packages" in v.field for v in info.value.violations)
