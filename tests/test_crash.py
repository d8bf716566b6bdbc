"""The gateway killed between steps: the declaration still reaches customs exactly once.

A real `customs-gateway serve` process dies (os._exit, as kill -9) at a fail point; a second
one is started on the same database and broker names. Customs (the simulator, in this test
process) must process the declaration once, and the record must end stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.core.customs_sim.service import stats
from gateway.ecx import samples
from tests.stack import PLATFORM, raw_config

pytestmark = pytest.mark.integration


def _serve(config_path: Path, crash_at: str | None, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "CUSTOMS_GATEWAY_CRASH_AT"}
    if crash_at:
        env["CUSTOMS_GATEWAY_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--config", str(config_path), "serve", "--no-http"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize(
    "crash_at", ["relay.before_publish.declaration", "relay.after_publish.declaration"]
)
def test_killed_between_commit_and_publish_reaches_customs_once(
    crash_at: str,
    make_stack,
    tmp_path: Path,
    keys_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    stack = make_stack().start(workers=False)  # the simulator only; the gateway is a process
    path = tmp_path / "gateway.yaml"
    raw = raw_config(Path(stack.config.state_dir), keys_dir, prefix=stack.config.amqp.prefix)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    result = stack.submit(samples.order_message(stack.ebc, PLATFORM, ["EO2026112200201"]))
    doc_id = result.documents[0].id

    log = tmp_path / "serve.log"
    first = _serve(path, crash_at, log)
    assert first.wait(timeout=60) == 137, log.read_text()  # died at the fail point
    second = _serve(path, None, log)
    try:
        assert stack.wait_status(doc_id, "stored", timeout=30) == "stored", log.read_text()
    finally:
        second.terminate()
        second.wait(timeout=15)
    assert stack.sim is not None
    seen = stats(stack.sim.db)
    assert seen["envelopes"] == 1  # customs processed one declaration…
    assert seen.get("status_120") == 1
    history = [h["to"] for h in stack.view(doc_id)["history"]]
    assert history.count("declaring") == 1 and history.count("stored") == 1  # …answered once
    if crash_at == "relay.after_publish.declaration":
        # the broker delivered the envelope twice; customs dropped the repeat by CopMsgId
        assert seen["received_more_than_once"] == 1
