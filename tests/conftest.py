from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.runtime import ensure_test_keys
from tests.stack import Stack, make_config, new_stack
from tests.transport_fixtures import broker_available


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Test identities made once per run (RSA key generation is the slow part)."""
    keys = tmp_path_factory.mktemp("keys")
    ensure_test_keys(make_config(keys, keys, prefix="keys."))
    return keys


@pytest.fixture(scope="session")
def broker() -> None:
    if not broker_available():
        pytest.fail("RabbitMQ is not reachable at AMQP_URL: integration tests need it "
                    "(.ci/run installs and starts it)")


@pytest.fixture
def stack(tmp_path: Path, keys_dir: Path, broker: None) -> Iterator[Stack]:
    """Gateway workers and simulated customs on a fresh SQLite database and broker prefix."""
    s = new_stack(tmp_path, keys_dir).start()
    yield s
    s.close()


@pytest.fixture
def make_stack(tmp_path: Path, keys_dir: Path, broker: None) -> Iterator:
    """A factory for stacks with other settings (sim rates, PostgreSQL, no sim…)."""
    made: list[Stack] = []

    def make(sub: str = "s", **kw: object) -> Stack:
        base = tmp_path / sub
        base.mkdir()
        s = new_stack(base, keys_dir, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
