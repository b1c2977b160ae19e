"""Who is calling, and what it may see: the two roles of the contract on every request.

The contract has two roles: the admin (the admin API, and everything else), and a member of a
project (the project API, its constraints and subscriptions, for its own project only).
Authentication is pluggable, chosen by `Settings.auth_strategy`:

- ``tokens`` (the default): static API tokens from the configuration, sent as X-Auth-Token
  (or ``Authorization: Bearer``), each standing for the admin or a member of one project;
- ``keystone``: keystonemiddleware's auth_token validates the token and sets X-Identity-Status,
  X-Roles and X-Project-Id, which are read here (a role in `keystone_admin_roles` is the admin).

With no token configured at all the API is open (every caller is the admin), as it was before
authentication existed; that is refused unless the API listens on loopback only, and browser
pages are kept out (`fenix.api.open_mode`).

Every request is authenticated before its handler runs, except views marked `@public` (the
API description, the UI's static page) and static files. Handlers then say what they need:
`require_admin()`, `require_project_access()` (a project named in a body: 403 for another's)
or `require_visible()` (a project that owns what a URL names: another project's things are
answered as missing, 404, so nothing about them leaks).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from flask import Flask, g, request
from pydantic import TypeAdapter, ValidationError
from werkzeug.datastructures import Headers

from fenix.api.errors import ApiError, forbidden, not_found
from fenix.api.open_mode import check_open_mode_request
from fenix.config import Settings, TokenGrant
from fenix.openstack_imports import import_openstack

LOG = logging.getLogger(__name__)

TOKEN_HEADER = "X-Auth-Token"
HeaderSource = Mapping[str, str] | Headers
_PUBLIC = "fenix_public"
View = TypeVar("View", bound=Callable[..., Any])


class AuthConfigError(ValueError):
    """The authentication settings cannot be used; the message says what to change."""


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


ADMIN = Caller(role="admin", project=None)


class Authenticator(Protocol):
    def identify(self, headers: HeaderSource) -> Caller | str:
        """The caller the request's headers prove, or why they prove none (a 401)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaticTokens:
    """Tokens from the configuration. Kept as digests: a lookup compares no secret bytes."""

    def __init__(self, grants: Mapping[str, TokenGrant]) -> None:
        self._callers = {
            _digest(token): Caller(role=grant.role, project=grant.project)
            for token, grant in grants.items()
        }

    def __len__(self) -> int:
        return len(self._callers)

    def identify(self, headers: HeaderSource) -> Caller | str:
        token = headers.get(TOKEN_HEADER)
        if not token:
            # Tools that cannot set a header of their own (a Prometheus scraper) send a bearer.
            scheme, _, credentials = headers.get("Authorization", "").partition(" ")
            token = credentials.strip() if scheme.lower() == "bearer" else None
        if not token:
            return f"this API needs a token: send it in the {TOKEN_HEADER} header"
        found = self._callers.get(_digest(token))
        if found is None:
            return f"the token in {TOKEN_HEADER} is not valid for this controller"
        return found


class KeystoneHeaders:
    """The identity keystonemiddleware's auth_token put in the request (it strips any sent)."""

    def __init__(self, admin_roles: list[str]) -> None:
        self.admin_roles = {role.lower() for role in admin_roles}

    def identify(self, headers: HeaderSource) -> Caller | str:
        if headers.get("X-Identity-Status") != "Confirmed":
            return f"send a valid Keystone token in the {TOKEN_HEADER} header"
        roles = {role.strip().lower() for role in headers.get("X-Roles", "").split(",")}
        if roles & self.admin_roles:
            return ADMIN
        project = headers.get("X-Project-Id")
        if not project:
            return "the Keystone token is not scoped to a project; ask for a project-scoped one"
        return Caller(role="member", project=project)


class OpenAccess:
    """No authentication: every caller is the admin (loopback only, see `build_authenticator`)."""

    def identify(self, headers: HeaderSource) -> Caller | str:
        return ADMIN


def load_tokens(settings: Settings) -> dict[str, TokenGrant]:
    """`settings.tokens` plus those of `settings.tokens_file`."""
    grants = dict(settings.tokens)
    if settings.tokens_file:
        path = Path(settings.tokens_file)
        try:
            raw = json.loads(path.read_text())
            grants.update(TypeAdapter(dict[str, TokenGrant]).validate_python(raw))
        except OSError as exc:
            raise AuthConfigError(f"cannot read the tokens file {path}: {exc}") from exc
        except (ValueError, ValidationError) as exc:
            raise AuthConfigError(
                f"the tokens file {path} is not a JSON object of "
                f'{{"<token>": {{"role": "admin" or "member", "project": ...}}}}: {exc}'
            ) from exc
    return grants


def build_authenticator(settings: Settings) -> Authenticator:
    if settings.auth_strategy == "keystone":
        return KeystoneHeaders(settings.keystone_admin_roles)
    tokens = StaticTokens(load_tokens(settings))
    if len(tokens):
        LOG.info("API authentication: %d static tokens", len(tokens))
        return tokens
    if not settings.binds_loopback_only():
        raise AuthConfigError(
            f"no API tokens are configured and the API would listen on {settings.bind_host}: "
            "anyone who reaches it could start maintenance. Set FENIX_TOKENS (or "
            "FENIX_TOKENS_FILE), or FENIX_AUTH_STRATEGY=keystone, or bind to 127.0.0.1"
        )
    LOG.warning(
        "NO AUTHENTICATION: no API tokens are configured (FENIX_TOKENS, FENIX_TOKENS_FILE), so "
        "every caller on %s is the admin. Configure tokens before anyone else uses this host.",
        settings.bind_host,
    )
    return OpenAccess()


def _keystone_middleware(app: Flask, settings: Settings) -> None:
    try:
        (auth_token,) = import_openstack("keystonemiddleware.auth_token")
    except ImportError as exc:
        raise AuthConfigError(
            f"FENIX_AUTH_STRATEGY=keystone needs keystonemiddleware ({exc}); "
            "install it: pip install 'fenix-ansible[keystone]'"
        ) from exc

    # Our own check answers the 401, in the contract's JSON error shape, with our message.
    conf = {"delay_auth_decision": "true", **{k: str(v) for k, v in settings.keystone.items()}}
    app.wsgi_app = auth_token.AuthProtocol(app.wsgi_app, conf)  # type: ignore[method-assign]


_AUTHENTICATOR = "fenix.api.authenticator"


def init_app(app: Flask, settings: Settings) -> None:
    """Authenticate every request before its handler runs; a 401 when nothing proves who."""
    authenticator = app.extensions[_AUTHENTICATOR] = build_authenticator(settings)
    open_mode = is_open(app)

    @app.before_request
    def _authenticate() -> None:
        if open_mode:
            check_open_mode_request(request)
        if _is_public(app, request.endpoint):
            return
        identity = authenticator.identify(request.headers)
        if isinstance(identity, str):
            raise ApiError(401, identity)
        g.fenix_caller = identity


def init_middleware(app: Flask, settings: Settings) -> None:
    """Keystone's token check around the whole app: installed last, so every other WSGI layer
    (fenix.api.fast_reads) sees only the identity headers it set, never a caller's own."""
    if settings.auth_strategy == "keystone":
        _keystone_middleware(app, settings)


def authenticator_of(app: Flask) -> Authenticator:
    return app.extensions[_AUTHENTICATOR]


def is_open(app: Flask) -> bool:
    """No authentication (open mode, `fenix.api.open_mode`)."""
    return isinstance(authenticator_of(app), OpenAccess)


def public(view: View) -> View:
    """Mark a view as served without a token (a static page, the API description)."""
    setattr(view, _PUBLIC, True)  # noqa: B010 - a marker read back by name
    return view


def _is_public(app: Flask, endpoint: str | None) -> bool:
    if endpoint is None:
        return False  # no route matched: authenticate first, so unknown URLs tell nothing
    if endpoint == "static" or endpoint.endswith(".static"):
        return True  # static files hold no data
    return bool(getattr(app.view_functions.get(endpoint), _PUBLIC, False))


def caller() -> Caller:
    """The identity of the current request, established before its handler ran."""
    return g.fenix_caller


def require_admin() -> Caller:
    """The caller, or a 403 for a project member (the admin API is the admin's)."""
    who = caller()
    if not who.is_admin:
        raise forbidden(
            f"this is the admin API; a token of project {who.project} may use the project API "
            "(/v1/maintenance/<session>/<project>, constraints, subscriptions) only"
        )
    return who


def require_project_access(project_id: str | None) -> Caller:
    """The caller, or a 403 when a body names a project it may not act for."""
    who = caller()
    if not who.may_act_for(project_id):
        scope = f"project {project_id}" if project_id else "infrastructure-wide events"
        raise forbidden(f"a member of project {who.project} may not act for {scope}")
    return who


def require_visible(project_id: str | None, missing: str) -> Caller:
    """The caller, or the 404 `missing` when what it names belongs to another project.

    The answer is the one a thing that does not exist gets, so another project's ids tell
    nothing about that project.
    """
    who = caller()
    if not who.may_act_for(project_id):
        raise not_found(missing)
    return who
