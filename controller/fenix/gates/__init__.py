"""Health gates: what must hold before a host (or a wave) starts and after it comes back.

A gate is admin-set on a session: a Prometheus query (fenix.gates.prometheus) or a playbook of
action type `gate` (run through fenix.actions like any plug-in; its failure means unhealthy).
The workflows ask fenix.workflows.gates, which retries a failing gate every `interval` seconds
and, past `timeout`, pauses the session with the reason (it neither fails it nor moves on).
"""

STAGES = ("before", "after")
"""When a gate is checked: before a host starts, after it comes back into service."""
