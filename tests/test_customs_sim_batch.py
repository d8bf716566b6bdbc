"""The simulated customs judging envelopes that arrived together (issue 15), in-process.

A batch is judged in one transaction with customs' records read and written once a run
(gateway/core/customs_sim/books.py) instead of an ORM flush a record. What must not change:
a repeated CopMsgId is dropped alone and counted, in a batch or across batches; a business
key declared twice is refused with a negative returnStatus even within one batch (R-COM-5);
outcomes come from the seeded hash, the same whether envelopes come one by one or together;
a behaviour that reads the store itself (the four-document comparison of an inventory list,
R-ECX-2) sees what the envelopes before it in the batch left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from sqlalchemy import select

from gateway import xmlsafe
from gateway.core.config import SimConfig
from gateway.core.customs_sim.service import DUPLICATE_KEY, CustomsSim, Registry
from gateway.core.customs_sim.state import Declaration, Received, Scheduled
from gateway.core.db import Database
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from gateway.ecx.kinds_full import INVENTORY
from gateway.ecx.sim.state import PendingComparison
from signers import FileKey, KeyBackend, get_suite, sign
from signers.testkeys import ensure_identity
from transports import Delivery, Topology, unwrap, wrap

EBC, EBP, CARRIER, PAYER = (
    samples.DEMO_EBC,
    samples.DEMO_EBP,
    samples.DEMO_LOGISTICS,
    samples.DEMO_PAYER,
)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[KeyBackend, x509.Certificate]:
    key_path, cert_path = ensure_identity(tmp_path_factory.mktemp("keys"), "sim-batch")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return FileKey.from_config(key_path, cert_path), cert


def _sim(tmp_path: Path, name: str, cert: x509.Certificate, **config: Any) -> CustomsSim:
    url = f"sqlite:///{tmp_path / name}.db"
    sim_config = SimConfig(database_url=url, declaring_delay=0.0, result_delay=0.0, **config)
    registry = Registry({p.dxp_id: cert for p in (EBC, CARRIER)})
    return CustomsSim(Database(url), sim_config, registry, Topology())


def _envelope(key: KeyBackend, data: bytes, sender: samples.Party = EBC) -> Delivery:
    signed = sign(xmlsafe.parse(data).getroot(), key, get_suite("rsa-sha1"))
    msg_type = xmlsafe.parse(data).getroot().tag.split("}")[-1]
    return Delivery(body=wrap(signed, msg_type=msg_type, sender_id=sender.dxp_id).body)


def _order(key: KeyBackend, order_no: str, *, app_type: str = "1", seed: int = 0) -> Delivery:
    return _envelope(key, samples.order_message(EBC, EBP, [order_no], app_type=app_type, seed=seed))


def _held(sim: CustomsSim) -> dict[tuple[str, str], tuple[str, int]]:
    with sim.db.session() as session:
        rows = session.scalars(select(Declaration)).all()
        return {(r.kind, r.business_key): (r.status, r.versions) for r in rows}


def _deliveries(sim: CustomsSim) -> list[int]:
    with sim.db.session() as session:
        return list(session.scalars(select(Received.deliveries).order_by(Received.id)))


def _entities(sim: CustomsSim) -> list[tuple[str, str, str]]:
    """(order or list number, returnStatus, returnInfo) of every receipt entity, in order."""
    with sim.db.session() as session:
        bodies = list(session.scalars(select(Scheduled.body).order_by(Scheduled.due, Scheduled.id)))
    out = []
    for body in bodies:
        root = xmlsafe.parse(unwrap(body).data).getroot()
        for entity in root:
            fields = {el.tag.split("}")[-1]: el.text or "" for el in entity}
            if "returnStatus" in fields:
                number = fields.get("orderNo") or fields.get("logisticsNo") or ""
                out.append((number, fields["returnStatus"], fields["returnInfo"]))
    return out


def _statuses(sim: CustomsSim) -> list[tuple[str, str]]:
    return sorted((number, status) for number, status, _info in _entities(sim))


def test_a_repeated_copmsgid_is_dropped_alone_in_a_batch_and_across_batches(
    tmp_path: Path, identity: tuple[KeyBackend, x509.Certificate]
) -> None:
    key, cert = identity
    sim = _sim(tmp_path, "sim", cert)
    first, second, third = (_order(key, f"REPEAT{i:03d}") for i in range(3))
    sim.handle_batch([first, first, second])  # the repeat within the batch
    sim.handle_batch([first, third])  # and in a later batch
    sim.handle(first)  # and alone
    assert _deliveries(sim) == [4, 1, 1]
    assert sorted(_held(sim).values()) == [("120", 1)] * 3
    # one "declaring" and one result each: a repeat is never answered
    numbers = [f"REPEAT{i:03d}" for i in range(3)]
    assert _statuses(sim) == sorted((n, s) for n in numbers for s in ("2", "120"))


def test_a_key_declared_twice_in_one_batch_is_refused_as_across_batches(
    tmp_path: Path, identity: tuple[KeyBackend, x509.Certificate]
) -> None:
    # R-COM-5: a new declaration of a key customs holds live is refused (-1); the second
    # envelope of a batch sees the first's record although the run writes it only at the end
    key, cert = identity
    sim = _sim(tmp_path, "sim", cert)
    sim.handle_batch([_order(key, "TWICE001"), _order(key, "TWICE001", seed=1)])
    sim.handle_batch([_order(key, "TWICE001", seed=2), _order(key, "OTHER001")])
    assert sorted(_held(sim).values()) == [("120", 1)] * 2
    refused = [(n, s, i) for n, s, i in _entities(sim) if s.startswith("-")]
    assert [(n, s) for n, s, _i in refused] == [("TWICE001", DUPLICATE_KEY)] * 2
    assert all("业务主键重复" in info for _n, _s, info in refused)


def test_a_returned_record_modified_in_the_same_batch_is_a_new_version(
    tmp_path: Path, identity: tuple[KeyBackend, x509.Certificate]
) -> None:
    # R-COM-5: a returned (100) record may be modified (appType 2); within one batch the
    # modification sees the return decided just before it
    key, cert = identity
    sim = _sim(tmp_path, "sim", cert, return_rate=1.0)
    sim.handle_batch([_order(key, "BACK0001"), _order(key, "BACK0001", app_type="2", seed=1)])
    assert list(_held(sim).values()) == [("100", 2)]
    assert _statuses(sim) == [
        ("BACK0001", "100"),
        ("BACK0001", "100"),
        ("BACK0001", "2"),
        ("BACK0001", "2"),
    ]


def test_batched_and_one_by_one_judge_alike(
    tmp_path: Path, identity: tuple[KeyBackend, x509.Certificate]
) -> None:
    # outcomes are sampled from the seeded hash of kind, key and version: the same answers
    # whether customs takes the envelopes one by one or together
    key, cert = identity
    envelopes = [_order(key, f"ALIKE{i:04d}") for i in range(30)]
    envelopes += [_order(key, "ALIKE0003", seed=1), _order(key, "ALIKE0004", app_type="2")]
    envelopes += [_envelope(key, samples.order_message(PAYER, EBP, ["ALIKE9999"]), PAYER)]
    alone, together = (_sim(tmp_path, n, cert, return_rate=0.4, seed=7) for n in ("a", "b"))
    for delivery in envelopes:
        alone.handle(delivery)
    together.handle_batch(envelopes[:10])
    together.handle_batch(envelopes[10:])
    assert _held(alone) == _held(together)
    assert {s for s, _v in _held(alone).values()} == {"100", "120"}
    assert sorted(_entities(alone)) == sorted(_entities(together))
    # the unregistered sender's envelope: CEB900 1001, the others judged
    with together.db.session() as session:
        outcomes = list(session.scalars(select(Received.outcome).order_by(Received.id)))
    assert outcomes == ["accepted"] * 32 + ["format_or_security_failure"]


@pytest.mark.parametrize("list_first", [False, True], ids=["documents-first", "list-first"])
def test_a_list_in_a_batch_is_compared_with_the_documents_before_and_after_it(
    tmp_path: Path, identity: tuple[KeyBackend, x509.Certificate], list_first: bool
) -> None:
    # R-ECX-2: the inventory list's behaviour reads the store itself. Documents before it in
    # the batch are written before it is compared; documents after it settle its wait when
    # their run is written.
    key, cert = identity
    sim = _sim(tmp_path, "sim", cert, missing_document_wait=3600.0)
    orders, waybills = ["FOUR0001", "FOUR0002"], ["YT000000001", "YT000000002"]
    parcels = [ecx.Parcel(o, n) for o, n in zip(orders, waybills, strict=True)]
    shipments = [samples.Shipment(n, EBC, o) for o, n in zip(orders, waybills, strict=True)]
    documents = [
        _envelope(key, samples.order_message(EBC, EBP, orders)),
        _envelope(key, samples.payment_message(EBC, EBP, PAYER, orders)),
        _envelope(key, samples.waybill_message(CARRIER, shipments), CARRIER),
    ]
    inventory = _envelope(key, ecx.inventory_message(EBC, parcels))
    sim.handle_batch([inventory, *documents] if list_first else [*documents, inventory])
    held = _held(sim)
    assert sorted(s for (kind, _k), (s, _v) in held.items() if kind == "inventory") == ["120"] * 2
    assert {s for (kind, _k), (s, _v) in held.items() if kind != "inventory"} == {"120"}
    with sim.db.session() as session:
        assert session.scalars(select(PendingComparison)).all() == []
        results = session.scalars(select(Scheduled.body).where(Scheduled.note == "result")).all()
    lists = [body for body in results if unwrap(body).msg_type == INVENTORY.receipt_type]
    # compared when judged, the lists' results go with the batch's other results (one
    # message); a list that waited is answered on its own when the wait is settled
    assert len(lists) == (2 if list_first else 1)
