"""The maintenance plan without I/O: given a snapshot of the cloud, the constraints, the moves
in flight, what each manager was told and answered and the clock, which hosts start, which
instance goes where and how, whom to tell and when to wait.

No database, HTTP, threads, sleeps or clock of its own: tests/controller/test_import_graph.py
keeps it so. fenix.workflows.parallel builds the snapshots and carries out the decisions
(planner.plan); the default workflow takes its hosts and targets from one_at_a_time.
"""
