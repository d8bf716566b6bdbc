"""The core of the gateway: everything that knows no business system.

Intake, the check engine, signing, the outbox relay, receipt application, history and
notifications, batch-job leases, the simulated customs' service loop, the HTTP app and the
CLI shell. Business systems are packages beside it (`gateway/ecx`, `gateway/appointments`…)
that declare themselves once (`system.BusinessSystem`); `registry` installs them.
"""
