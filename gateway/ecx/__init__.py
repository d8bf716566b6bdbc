"""Cross-border e-commerce export (跨境电商出口, seed 004, R-ECX-1..8).

Orders, payment receipts and waybills (the four-document comparison's first three), then
the inventory lists, their revoke applications, arrivals, departures, total/sub waybill
lists, returns and their tallies, and summary declarations. `system` declares it to the core
(`SYSTEM`): `kinds`/`kinds_full` (the document kinds), `checks` (R-ECX-1..3, R-ECX-8 rules),
`batches`/`parcels` (many parcels at once), `queries` and `api`/`cli` (the export queries),
`revoke` (R-ECX-5), `summary/` (summary declarations, R-ECX-8), `sim/` (what the simulated
customs does with them), `samples`/`samples_lists` and `demo`.
"""
