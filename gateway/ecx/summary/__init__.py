"""Summary declarations (汇总申报, R-ECX-8; customs announcement 2018 No.194).

Closed summary-mode inventory lists are merged, per cycle (a month by default) and merge
key, into summary applications (CEB701); customs answers each with a summary return
(CEB702, the sumNo) and one summary result (CEB792) per merged customs declaration, which
finalises (结案) the lists. Due by the 15th of the following month, rolled to a working day.

- `models`   the lists and item lines the job reads (migration 0003)
- `lists`    keeping them current: intake and receipt hooks of the inventory and summary kinds
- `cycles`   cycles, the working-day calendar, due dates
- `grouping` the GROUP BY queries and the invtNo stream
- `message`  building CEB701
- `job`      one cycle's run: groups → applications → intake
- `schedule` APScheduler with a persistent job store and the database lease
- `preview`, `due`  dry run and due dates for ops; `results` applies CEB792
- `cli`, `api`  the `summary` commands and /v1/summaries

Modules are imported where used: the kinds import `lists` lazily, and `lists` imports them.
"""
