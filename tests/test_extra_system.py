"""Adding a business system is adding one package: a test-only system (tests/extra_system,
one kind and its XSD), named in the configuration, goes through intake, signing, the real
broker, the simulated customs and the receipt back to a final status, without any core file
knowing it (issue 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.core import queries, registry
from gateway.core.runtime import Gateway
from tests.extra_system.system import PERMIT, permit_message
from tests.stack import ADMIN, Stack, make_config, unique_prefix

SYSTEM_MODULE = "tests.extra_system.system"


def test_a_system_the_core_never_heard_of_goes_end_to_end(
    tmp_path: Path, keys_dir: Path, broker: None
) -> None:
    config = make_config(tmp_path, keys_dir, prefix=unique_prefix())
    config = config.with_overrides(systems=(SYSTEM_MODULE,))
    gateway = Gateway(config)  # installs the configured system beside the shipped ones
    gateway.prepare()
    stack = Stack(config, gateway).start()
    try:
        assert registry.for_message("TST101Message") is PERMIT
        result = stack.submit(permit_message(stack.ebc, "P-0001"))
        (doc,) = result.documents
        assert stack.wait_status(doc.id, "stored", timeout=60.0) == "stored"
        view = stack.view(doc.id)
        assert view["kind"] == "tst_permit"
        assert stack.path(doc.id)[-2:] == ["declaring", "stored"]
        # the bytes sent were signed, and customs verified the signature to store it
        assert b"SignatureValue" in _signed(stack, view)
    finally:
        stack.close()


def _signed(stack: Stack, view: dict[str, Any]) -> bytes:
    message_id = view["versions"][-1]["message_id"]
    with stack.gateway.db.session() as session:
        return queries.message_part(session, ADMIN, message_id, "signed")
