"""Who is calling: the seam where access control will plug in.

The contract gives the admin API to role admin and the project API to members of that project.
Until authentication exists every caller is an admin; endpoints already ask `caller()` and scope
by it, so adding token checks later changes this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fenix.api.errors import forbidden


@dataclass(frozen=True)
class Caller:
    role: Literal["admin", "member"]
    project: str | None
    """The caller's project for a member; None for an admin."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_act_for(self, project_id: str | None) -> bool:
        """Admins act for anyone; a member only for its own project (not infrastructure-wide)."""
        return self.is_admin or (project_id is not None and project_id == self.project)


def caller() -> Caller:
    """The identity of the current request. For now: an admin, without authentication."""
    return Caller(role="admin", project=None)


def require_project_access(project_id: str | None) -> Caller:
    """The caller, or a 403 when it may not act for `project_id`."""
    who = caller()
    if not who.may_act_for(project_id):
        scope = f"project {project_id}" if project_id else "infrastructure-wide events"
        raise forbidden(f"a member of project {who.project} may not act for {scope}")
    return who
