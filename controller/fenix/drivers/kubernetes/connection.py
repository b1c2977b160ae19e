"""Reaching the API server: the optional client library, credentials, and errors.

The ``kubernetes`` package is an optional dependency, imported here only; errors from it
become DriverErrors that carry the API server's own message and say what to do next.
"""

from __future__ import annotations

import json
import os

from fenix.drivers.base import DriverError

try:
    import urllib3
    import yaml  # type: ignore[import-untyped]  # (types-PyYAML is not a dependency)
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
except ImportError as exc:  # an optional dependency: say how to get it when it is used
    _MISSING: ImportError | None = exc
    client = config = None  # type: ignore[assignment]
else:
    _MISSING = None

_HINTS = {
    401: "the API server rejected the credentials: renew the token or certificate in the "
    "kubeconfig (or the service account token)",
    403: "the account lacks RBAC permissions: it needs get/list/patch on nodes, get/list on "
    "pods and create on pods/eviction (see inventories/kubernetes/rbac.yml)",
}


class KubernetesApiError(DriverError):
    """The API server refused a call; ``status`` is its HTTP code, ``reason`` its Status reason."""

    def __init__(self, message: str, status: int, reason: str | None, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.detail = detail
        """The server's message and its causes alone."""


def missing_library() -> None:
    """Raise a DriverError saying how to install the client library, if it is missing."""
    if _MISSING is not None:
        raise DriverError(
            "the Kubernetes driver needs the kubernetes client library: "
            f"pip install 'fenix-ansible[kubernetes]' ({_MISSING})"
        )


def call(server: str, timeout: float, what: str, method, *args, **kwargs):
    """``method(*args, **kwargs)`` bounded by ``timeout``; failures become DriverErrors.

    ``what`` names the call for messages ("listing nodes"), ``server`` the API server's URL.
    """
    kwargs.setdefault("_request_timeout", timeout)
    try:
        return method(*args, **kwargs)
    except ApiException as exc:
        raise api_error(exc, what, server) from exc
    except urllib3.exceptions.HTTPError as exc:
        cause = getattr(exc, "reason", None) or exc
        raise DriverError(
            f"Kubernetes API at {server} unreachable while {what}: {cause}. "
            "Check that the API server is up and that the kubeconfig points at it."
        ) from exc


def load_api_client(kubeconfig: str | None, context: str | None):
    """An ApiClient from the kubeconfig (kubectl's defaults), or in a pod its service account."""
    configuration = client.Configuration()
    in_cluster = kubeconfig is None and context is None and "KUBERNETES_SERVICE_HOST" in os.environ
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (config.ConfigException, OSError, yaml.YAMLError) as exc:
        source = (
            "the pod's service account (in-cluster)"
            if in_cluster
            else f"kubeconfig {kubeconfig or os.environ.get('KUBECONFIG') or '~/.kube/config'}"
            + (f", context {context!r}" if context else "")
        )
        raise DriverError(
            f"cannot load Kubernetes credentials from {source}: {str(exc).rstrip('.')}. "
            "Pass kubeconfig= "
            "(and context=) or set KUBECONFIG; inside a pod, mount a service account token"
        ) from exc
    return client.ApiClient(configuration)


def api_error(exc, what: str, server: str) -> KubernetesApiError:
    """The API server's own message (from its Status object) plus what to do about it."""
    status = exc.status or 0
    if status == 0:  # raised by the client itself (TLS failures)
        detail = str(exc.reason)
        return KubernetesApiError(f"{what} failed talking to {server}: {detail}", 0, None, detail)
    message, reason, causes = None, exc.reason, []
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message")
        reason = body.get("reason") or reason
        causes = [c.get("message") for c in (body.get("details") or {}).get("causes") or []]
    detail = str(message or exc.reason)
    if any(causes):
        detail += " (" + "; ".join(c for c in causes if c) + ")"
    text = f"{what}: HTTP {status} {reason}: {detail}"
    if status in _HINTS:
        text += f"; {_HINTS[status]}"
    return KubernetesApiError(text, status, reason, detail)
