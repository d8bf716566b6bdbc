"""Running the simulated customs service: one consumer of the customs queue, one sender of
due receipts. Started by `customs-gateway customs-sim` as its own process.

It connects as its own broker user (`amqp.customs_url`): the only user allowed to publish to
the receipts exchange, allowed to configure nothing. The gateway declares the topology; until
it has, the consumer waits and retries (transports/permissions.py)."""

from __future__ import annotations

import logging
import threading

from gateway.core import registry
from gateway.core.config import Config
from gateway.core.customs_sim.service import CustomsSim, Registry
from gateway.core.db import Database
from gateway.core.runtime import ensure_test_keys, topology_for
from transports import Consumer
from transports.batch import BatchPublisher

log = logging.getLogger(__name__)

#: envelopes judged in one transaction at most (and the consumer's prefetch)
SIM_BATCH = 100


def build(config: Config) -> CustomsSim:
    registry.ensure_installed(config.systems)
    ensure_test_keys(config)
    topology = topology_for(config)
    return CustomsSim(
        Database(config.sim.database_url), config.sim, Registry.from_config(config), topology
    )


def start(config: Config, stop: threading.Event) -> tuple[CustomsSim, list[threading.Thread]]:
    sim = build(config)
    url = config.amqp.customs_url
    publisher = BatchPublisher(url, name="customs-sim")
    # Envelopes that arrived together are judged in one transaction (CustomsSim.handle_batch):
    # customs must keep up with the gateway, or end-to-end figures measure the simulator.
    consumer = Consumer(
        url,
        sim.topology.customs_inbound_queue,
        sim.handle,
        name="customs-sim",
        retry_limit=sim.topology.consumer_retry_limit,
        batch_handler=sim.handle_batch,
        prefetch=SIM_BATCH,
    )
    threads = [
        threading.Thread(target=consumer.run, args=(stop,), name="sim-consumer", daemon=True),
        threading.Thread(
            target=sim.run_sender, args=(publisher, stop), name="sim-sender", daemon=True
        ),
    ]
    for thread in threads:
        thread.start()
    return sim, threads


def run_forever(config: Config, stop: threading.Event) -> None:
    sim, threads = start(config, stop)
    log.info(
        "customs-sim running: declaring after %.1fs, result after %.1fs, "
        "return rate %.0f%%, format failure rate %.0f%%",
        config.sim.declaring_delay,
        config.sim.result_delay,
        config.sim.return_rate * 100,
        config.sim.format_failure_rate * 100,
    )
    stop.wait()
    for thread in threads:
        thread.join(timeout=5)
