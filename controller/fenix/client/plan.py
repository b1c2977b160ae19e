"""A session's plan (POST /v1/maintenance/plan) printed for a person to approve: the makespan
first, then the hosts in the order and waves they would be taken, then every move."""

from __future__ import annotations

from typing import IO, Any

from fenix.client.tables import table


def print_plan(plan: dict[str, Any], out: IO[str]) -> None:
    hosts, moves, bound = plan["hosts"], plan["moves"], plan["lower_bound"]
    print(
        f"plan of {len(plan['session_hosts'])} hosts, {plan['workflow']} workflow "
        f"({plan['planner'].replace('_', ' ')}), from {plan['maintenance_at']}",
        file=out,
    )
    estimate = "none (blocked)" if plan["estimate"] is None else duration(plan["estimate"])
    floor = (
        "none: no host can be emptied" if bound["seconds"] is None else duration(bound["seconds"])
    )
    print(f"makespan  estimate {estimate}; lower bound {floor}", file=out)
    at_once = bound["hosts_at_once"]
    why = [f"at most {at_once} host{'' if at_once == 1 else 's'} empty at once"]
    if bound["tightest_group"]:
        why.append(f"group {bound['tightest_group']} {duration(bound['by_group'])}")
    print(f"          ({'; '.join(why)})", file=out)
    assumed = ", ".join(f"{k} {v:g} s" for k, v in plan["durations"].items())
    print(f"assumed   {assumed}", file=out)
    print(file=out)
    table(
        out,
        ("WAVE", "#", "HOST", "STEP", "OUT", "MAINTAINED", "MOVES OFF"),
        [
            (
                h["wave"],
                h["order"],
                h["host"],
                h["step"],
                at(h["out_of_service_at"]),
                f"{at(h['maintenance_from'])}..{at(h['maintenance_until'])}",
                h["instances"],
            )
            for h in hosts
        ],
    )
    if moves:
        print(file=out)
        table(
            out,
            ("INSTANCE", "PROJECT", "FROM", "TO", "ACTION", "WHEN"),
            [
                (
                    m["instance_id"],
                    m["project_id"],
                    m["source"],
                    m["target"] or "-",
                    m["action"],
                    f"{at(m['start'])}..{at(m['end'])}",
                )
                for m in sorted(moves, key=lambda m: (m["start"], m["instance_id"]))
            ],
        )
    if plan["blocked"]:
        print(f"\nblocked   {plan['blocked']}", file=out)
    print("\nAn estimate, assuming:", file=out)
    for assumption in plan["assumptions"]:
        print(f"- {assumption}", file=out)


def duration(seconds: float) -> str:
    """1h 02m 05s, 3m 20s, 42.5 s."""
    if seconds < 60:
        return f"{seconds:g} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def at(seconds: float) -> str:
    """A moment of the plan, from its start."""
    return f"+{duration(seconds)}".replace(" ", "")
