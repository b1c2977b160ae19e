"""Subscriptions: where maintenance notifications are POSTed, and in which format.

A project's manager subscribes to maintenance.planned for its project (which also tells the
workflow that the project has a manager that will answer); infrastructure services subscribe
with no project. The secret signs deliveries and is never shown back.

A project member subscribes for its own project only, and sees and deletes only its project's
subscriptions (another's are answered as missing). The admin sees every one, including the
message bus's (`oslo.messaging`), which the configuration keeps and the API does not delete.

The callback URL is a tenant's choice, so it is held to the callback policy
(fenix.notify.callbacks: public addresses only, unless the admin allows a network), and a
project holds at most `subscriptions_per_project` subscriptions, so that one tenant cannot
multiply its share of the deliveries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint

from fenix.api import json_body, runtime
from fenix.api.auth import caller, require_project_access
from fenix.api.errors import bad_request, conflict, forbidden, not_found
from fenix.api.schemas import CreateSubscription
from fenix.api.views import subscription_view
from fenix.notify.bus import is_bus
from fenix.notify.callbacks import CallbackPolicy, CallbackRefused
from fenix.states import EventType

if TYPE_CHECKING:
    from fenix.db.repository import Repository

blueprint = Blueprint("subscriptions", __name__, url_prefix="/v1/subscriptions")

INFRASTRUCTURE_EVENT_TYPES = {str(EventType.HOST), str(EventType.SESSION)}
"""Sent with no project: a project's subscription to them would never be told anything."""


@blueprint.post("")
def create_subscription() -> tuple[dict[str, Any], int]:
    body = json_body(CreateSubscription)
    who = require_project_access(body.project_id)
    infrastructure = sorted(set(map(str, body.event_types)) & INFRASTRUCTURE_EVENT_TYPES)
    if infrastructure and not who.is_admin:
        raise forbidden(
            f"{', '.join(infrastructure)} go to the infrastructure (no project), never to a "
            "project's manager: a member may subscribe to maintenance.planned only"
        )
    settings = runtime().settings
    try:
        CallbackPolicy(settings.callback_allow_networks).check_url(body.callback_url)
    except CallbackRefused as exc:
        raise bad_request(str(exc)) from None
    with runtime().db.transaction() as repo:
        if body.project_id is not None:
            _refuse_over_quota(repo, body.project_id, settings.subscriptions_per_project)
        subscription = repo.add_subscription(
            project_id=body.project_id,
            event_types=[str(event_type) for event_type in body.event_types],
            callback_url=body.callback_url,
            secret=body.secret,
            format=body.format,
        )
        answer = subscription_view(subscription)
        repo.add_event(None, "subscription.created", subscription.id, data=answer)
    return answer, 201


def _refuse_over_quota(repo: Repository, project_id: str, quota: int) -> None:
    """409 when the project already holds its quota (infrastructure subscriptions aside)."""
    held = repo.count_project_subscriptions(project_id)
    if held >= quota:
        raise conflict(
            f"project {project_id} holds {held} subscriptions, the most a project may hold "
            f"({quota}); delete one it no longer needs (DELETE /v1/subscriptions/<id>), or ask "
            "the admin to raise FENIX_SUBSCRIPTIONS_PER_PROJECT"
        )


@blueprint.get("")
def list_subscriptions() -> dict[str, Any]:
    """An admin sees every subscription; a project member those of its project."""
    who = caller()
    with runtime().db.transaction() as repo:
        if who.is_admin:
            rows = repo.list_subscriptions()
        else:
            rows = repo.list_subscriptions(project_id=who.project) if who.project else []
        return {"subscriptions": [subscription_view(row) for row in rows]}


@blueprint.delete("/<subscription_id>")
def delete_subscription(subscription_id: str) -> dict[str, Any]:
    with runtime().db.transaction() as repo:
        subscription = repo.get_subscription(subscription_id)
        # Another project's subscription is reported missing, not forbidden: its id is no
        # business of the caller.
        if subscription is None or not caller().may_act_for(subscription.project_id):
            raise not_found(f"no subscription {subscription_id}")
        if is_bus(subscription):
            raise conflict(
                "the message bus subscription follows the configuration: unset "
                "FENIX_TRANSPORT_URL and restart the controller to stop sending to the bus"
            )
        repo.delete_row(subscription)
        repo.add_event(None, "subscription.deleted", subscription_id)
    return {"subscription_id": subscription_id}


@blueprint.get("/<subscription_id>")
def get_subscription(subscription_id: str) -> dict[str, Any]:
    with runtime().db.transaction() as repo:
        subscription = repo.get_subscription(subscription_id)
        if subscription is None or not caller().may_act_for(subscription.project_id):
            raise not_found(f"no subscription {subscription_id}")
        return subscription_view(subscription)
