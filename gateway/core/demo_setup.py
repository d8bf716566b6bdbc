"""What every business system's demo sets up the same way: its own configuration written
from the user's (each enterprise with its key binding and, for HTTP, a fresh API-key file),
and a broker left clean by an interrupted earlier run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pika

from gateway.core.config import Config
from gateway.core.keys import new_key, write_keys_file
from gateway.core.runtime import Gateway
from transports.publisher import connection_parameters

#: the key binding's settings, as the configuration file names them
KEY_FIELDS = (
    "backend", "key_file", "cert_file", "suite", "generate", "key_type",
    # IC card binding (backend "card"); the PIN stays in its file
    "reader", "card_number", "pin_file",
)  # fmt: skip


def new_keys_file(base: Path, name: str) -> Path:
    """A file under `base` holding one new API key for `name` (0600)."""
    return write_keys_file(base / "api-keys" / f"{name}.keys", [new_key()])


def enterprise_raw(ent: Any, keys_base: Path | None = None) -> dict[str, Any]:
    """An enterprise of the configuration as the file writes it; with `keys_base`, an API
    key of its own for the demo's HTTP calls."""
    key = ent.key
    values = {name: getattr(key, name) for name in KEY_FIELDS}
    values = {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}
    raw: dict[str, Any] = {"code": ent.code, "name": ent.name, "dxp_id": ent.dxp_id}
    if keys_base is not None:
        raw["api_keys_file"] = str(new_keys_file(keys_base, ent.code))
    return {**raw, "key": {**values, "cards": list(key.cards)}}


def reset_broker(config: Config, gw: Gateway, connection_name: str) -> None:
    """Drop the demo's queues: an interrupted earlier run leaves nothing behind."""
    connection = pika.BlockingConnection(connection_parameters(config.amqp.url, connection_name))
    try:
        channel = connection.channel()
        topo = gw.topology
        names = [topo.customs_inbound_queue, topo.receipts_queue, topo.inbound_queue]
        names += [topo.notify_queue(e.code) for e in config.enterprises]
        for name in names:
            channel.queue_delete(name)
            channel.queue_delete(topo.dead_queue(name))
    finally:
        connection.close()
