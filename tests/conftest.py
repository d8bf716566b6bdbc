from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core import registry
from gateway.core.runtime import ensure_test_keys
from tests.card_fixtures import card_ids, card_rig, rig  # noqa: F401  (one pcscd per run)
from tests.stack import Stack, ensure_broker_users, make_config, new_stack
from tests.transport_fixtures import broker_available

# Tests call lower layers (receipt parsing, check tables) directly: install the shipped
# business systems first, as every entry point of the gateway does.
registry.ensure_installed()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Test identities made once per run (RSA key generation is the slow part)."""
    keys = tmp_path_factory.mktemp("keys")
    ensure_test_keys(make_config(keys, keys, prefix="keys."))
    return keys


@pytest.fixture(scope="session")
def broker() -> None:
    if not broker_available():
        pytest.fail(
            "RabbitMQ is not reachable at AMQP_URL: integration tests need it "
            "(.ci/run installs and starts it)"
        )
    try:  # the broker users of the gateway, customs and the test enterprises
        ensure_broker_users()
    except RuntimeError as exc:
        pytest.fail(str(exc))


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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.stack import PG_URL

    name = f"gw_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - say plainly what is missing
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}")
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
