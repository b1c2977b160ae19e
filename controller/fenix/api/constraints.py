"""ETSI maintenance constraints that a project's manager sets on its instances and groups.

The workflows read them to decide how many instances of a group may be down at once and how
each instance may be moved; this module only stores them, validated, per instance and group.

A project member sets constraints for its own project only: on an instance the cloud says is
its own and in a group of its own. Another project's
instances and groups are answered as missing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint

from fenix.api import json_body, runtime
from fenix.api.auth import Caller, require_project_access, require_visible
from fenix.api.errors import bad_request, not_found
from fenix.api.schemas import GroupConstraintBody, InstanceConstraintBody
from fenix.api.views import group_constraint_view, instance_constraint_view
from fenix.db.models import InstanceConstraint, InstanceGroupConstraint

blueprint = Blueprint("constraints", __name__, url_prefix="/v1")


def _same_id(field: str, in_body: str | None, in_url: str) -> None:
    if in_body is not None and in_body != in_url:
        raise bad_request(f"{field}: the body names {in_body}, the URL {in_url}")


def _instance_missing(instance_id: str) -> str:
    return f"no constraints for instance {instance_id}"


def _group_missing(group_id: str) -> str:
    return f"no constraints for instance group {group_id}"


Constraint = TypeVar("Constraint", InstanceConstraint, InstanceGroupConstraint)


def _visible_or_404(row: Constraint | None, missing: str) -> Constraint:
    """The caller's own constraint row: another project's answers as missing, like none."""
    if row is None:
        raise not_found(missing)
    require_visible(row.project_id, missing)
    return row


def _check_cloud_owner(who: Caller, instance_id: str) -> None:
    """A member constrains only an instance the cloud says is its project's.

    Another project's instance, and one the cloud does not have, are answered as missing:
    a member that could name any id could hold constraints over instances not its own.
    """
    if who.is_admin:
        return
    owner = next(
        (i.project_id for i in runtime().driver.list_instances() if i.instance_id == instance_id),
        None,
    )
    if owner is None:
        raise not_found(
            f"the cloud has no instance {instance_id} in project {who.project}; "
            "set constraints on an instance once it exists"
        )
    require_visible(owner, _instance_missing(instance_id))


# -- instances -----------------------------------------------------------------------------
@blueprint.put("/instance/<instance_id>")
def put_instance(instance_id: str) -> dict[str, Any]:
    body = json_body(InstanceConstraintBody)
    _same_id("instance_id", body.instance_id, instance_id)
    who = require_project_access(body.project_id)
    _check_cloud_owner(who, instance_id)
    fields = body.model_dump(mode="json", exclude={"instance_id"})
    with runtime().db.transaction() as repo:
        repo.lock_constraints()
        existing = repo.get_instance_constraint(instance_id)
        if existing is not None:
            require_visible(existing.project_id, _instance_missing(instance_id))
        group = repo.get_group_constraint(body.group_id) if body.group_id else None
        if group is not None:
            require_visible(group.project_id, _group_missing(group.group_id))
        row = repo.put_instance_constraint(instance_id, fields)
    return instance_constraint_view(row)


@blueprint.get("/instance/<instance_id>")
def get_instance(instance_id: str) -> dict[str, Any]:
    with runtime().db.transaction() as repo:
        row = _visible_or_404(
            repo.get_instance_constraint(instance_id), _instance_missing(instance_id)
        )
        return instance_constraint_view(row)


@blueprint.delete("/instance/<instance_id>")
def delete_instance(instance_id: str) -> dict[str, Any]:
    with runtime().db.transaction() as repo:
        repo.lock_constraints()
        row = _visible_or_404(
            repo.get_instance_constraint(instance_id), _instance_missing(instance_id)
        )
        repo.delete_row(row)
        repo.add_event(None, "constraint.instance.deleted", instance_id)
    return {"instance_id": instance_id}


# -- instance groups -----------------------------------------------------------------------
@blueprint.put("/instance_group/<group_id>")
def put_group(group_id: str) -> dict[str, Any]:
    body = json_body(GroupConstraintBody)
    _same_id("group_id", body.group_id, group_id)
    require_project_access(body.project_id)
    fields = body.model_dump(mode="json", exclude={"group_id"})
    with runtime().db.transaction() as repo:
        repo.lock_constraints()
        existing = repo.get_group_constraint(group_id)
        if existing is not None:
            require_visible(existing.project_id, _group_missing(group_id))
        row = repo.put_group_constraint(group_id, fields)
    return group_constraint_view(row)


@blueprint.get("/instance_group/<group_id>")
def get_group(group_id: str) -> dict[str, Any]:
    with runtime().db.transaction() as repo:
        row = _visible_or_404(repo.get_group_constraint(group_id), _group_missing(group_id))
        return group_constraint_view(row)


@blueprint.delete("/instance_group/<group_id>")
def delete_group(group_id: str) -> dict[str, Any]:
    with runtime().db.transaction() as repo:
        repo.lock_constraints()
        row = _visible_or_404(repo.get_group_constraint(group_id), _group_missing(group_id))
        repo.delete_row(row)
        repo.add_event(None, "constraint.group.deleted", group_id)
    return {"group_id": group_id}
