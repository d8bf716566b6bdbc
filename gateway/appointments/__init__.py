"""Appointment clearance (预约通关, seed 003, R-APT-1..11).

Out-of-hours clearance bookings: an enterprise asks customs to clear goods outside the
port's working hours; customs accepts, books (approves, with an application number) or
returns; after the appointment the enterprise feeds back the customs declaration numbers
it cleared, or explains why not. The gateway checks every rule at intake, keeps the
reference data the rules need, watches the feedback deadline and answers queries.

Modules: `codes` (namespace, wire codes), `models` (tables), `refdata` (enterprises,
port calendars, tariff, known declarations), `rules` (R-APT-1..8 as plain functions),
`kinds` (the four document kinds and their intake hook), `receipts` (building APT1x2
receipts), `sim` (the simulated customs behaviour), `deadlines` (R-APT-9 job),
`queries` and `api` (R-APT-10/11); `system` declares it to the core (`SYSTEM`).
"""
