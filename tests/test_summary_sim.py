"""The simulated customs' own merge of a summary application (R-ECX-8, customs announcement
2018 No.194): one customs declaration per head key (consignor, transport mode,
production/sales unit, destination country, exit customs), items merged by final
destination country, HS code and currency, at most 50 items to a declaration; and the CEB792
it answers with passes the XSD and the gateway's parser."""

from __future__ import annotations

from gateway.ecx.sim.summary import (
    ITEMS_PER_DECLARATION,
    HeldList,
    declaration_numbers,
    merge,
    result_message,
)
from receipts.parse import parse_summary_result
from schemas import loader as schemas

HEAD = {"ebcCode": "3301960Z01", "ownerCode": "3301960Z01", "trafMode": "5",
        "country": "502", "portCode": "2991", "logisticsNo": "YT7300000000001",
        "grossWeight": "1.5", "netWeight": "1.2"}  # fmt: skip


def item(gnum: int, gcode: str = "6110110000", currency: str = "142", country: str = "502"):  # type: ignore[no-untyped-def]
    return {"gnum": str(gnum), "gcode": gcode, "currency": currency, "country": country}


def held(invt_no: str, items: list[dict[str, str]], **head: str) -> HeldList:
    return HeldList(invt_no, {**HEAD, **head}, items)


def test_lists_differing_in_a_head_field_go_to_different_declarations() -> None:
    changes = [{}, {}, {"trafMode": "4"}, {"portCode": "2992"}, {"ownerCode": "X"}]
    lists = [held(f"L{n}", [item(1)], **change) for n, change in enumerate(changes)]
    merged = merge(lists)
    assert sorted(len(d.lists) for d in merged) == [1, 1, 1, 2]


def test_items_with_the_same_country_hs_code_and_currency_share_one_item_number() -> None:
    lists = [
        held("A", [item(1), item(2, gcode="6109100021")]),
        held("B", [item(1, gcode="6109100021"), item(2, currency="502")]),
    ]
    (decl,) = merge(lists)
    assert len(decl.item_keys) == 3
    lines = {(line["invtNo"], line["gnum"]): line["gseqno"] for line in decl.lines()}
    assert lines[("A", "2")] == lines[("B", "1")]  # same HS code, country, currency
    assert len(set(lines.values())) == 3


def test_a_declaration_holds_at_most_50_items() -> None:
    codes = [f"61101{n:05d}" for n in range(ITEMS_PER_DECLARATION + 1)]
    lists = [held(f"L{n:03d}", [item(1, gcode=code)]) for n, code in enumerate(codes)]
    lists.append(held("BOTH", [item(1, gcode=codes[0]), item(2, gcode=codes[-1])]))
    first, second = merge(lists)
    assert len(first.item_keys) == 50 and len(second.item_keys) == 1
    assert "BOTH" in {h.invt_no for h in first.lists} & {h.invt_no for h in second.lists}


def test_the_ceb792_passes_the_xsd_and_parses_back() -> None:
    from gateway import xmlsafe

    sum_no = "299120261234567890"
    (decl,) = merge([held("29912026E000000001", [item(1), item(2, gcode="6109100021")])])
    head = {"customsCode": "2991", "agentCode": "3301960Z01", "agentName": "杭州云锦",
            "ebcCode": "3301960Z01", "ebcName": "杭州云锦", "declAgentCode": "3301960Z01",
            "declAgentName": "杭州云锦"}  # fmt: skip
    data = result_message(head, sum_no, decl, 1, "20260203100000000")
    root = xmlsafe.parse(data).getroot()
    assert schemas.validate(root, "CEB792Message") == []
    (result,) = parse_summary_result(data).results
    entry, seq = declaration_numbers(sum_no, 1)
    assert result.entry_id == entry and len(entry) == 18 and len(seq) == 18
    assert entry[:8] == "29912026" and entry[8] == "0"  # customs, year, export
    assert [(line.gnum, line.gseqno) for line in result.lines] == [(1, 2), (2, 1)]
    assert result.fields["grossWeight"] == "1.5"
