"""The simulated Kubernetes API over plain HTTP: wire shapes, status codes, controllers."""

from __future__ import annotations

import time

import requests

from fenix.simulators.kubernetes.budgets import PDB_REFUSAL

TIMEOUT = 5


def get(kube, path: str, **params) -> requests.Response:
    return requests.get(kube.url + path, params=params, timeout=TIMEOUT)


def evict(kube, namespace: str, name: str, **body) -> requests.Response:
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
    return requests.post(
        f"{kube.url}/api/v1/namespaces/{namespace}/pods/{name}/eviction",
        json={**eviction, **body},
        timeout=TIMEOUT,
    )


def patch_node(kube, name: str, body, content_type: str) -> requests.Response:
    return requests.patch(
        f"{kube.url}/api/v1/nodes/{name}",
        json=body,
        headers={"Content-Type": content_type},
        timeout=TIMEOUT,
    )


def names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["metadata"]["name"] for item in response.json()["items"]]


def eventually(check, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_unknown_objects_and_paths_are_404_status_objects(kube):
    response = get(kube, "/api/v1/namespaces/shop/pods/nope")
    assert response.status_code == 404
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }
    assert get(kube, "/api/v1/nodes/nope").json()["message"] == 'nodes "nope" not found'
    assert get(kube, "/apis/apps/v1/deployments").json()["reason"] == "NotFound"
    assert evict(kube, "shop", "nope").status_code == 404


def test_an_eviction_that_breaks_a_budget_is_a_429_like_kube_apiserver(make_kube):
    kube = make_kube(create_seconds=30)  # no replacement frees the budget during the test
    web = [n for n in names(get(kube, "/api/v1/namespaces/shop/pods")) if n.startswith("web")]
    accepted = evict(kube, "shop", web[0])
    assert accepted.status_code == 201
    assert accepted.json()["kind"] == "Status" and accepted.json()["status"] == "Success"
    refused = evict(kube, "shop", web[1])
    assert refused.status_code == 429
    body = refused.json()
    assert body["reason"] == "TooManyRequests" and body["code"] == 429
    assert body["message"] == PDB_REFUSAL
    assert body["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget web needs 2 healthy pods and has 2 currently",
        }
    ]
    # Evicting a pod that is already going is not refused.
    assert evict(kube, "shop", web[0]).status_code == 201


def test_an_eviction_checks_its_body_and_the_uid_precondition(kube):
    other = evict(kube, "shop", "db-0", metadata={"name": "db-1"})
    assert other.status_code == 400
    assert other.json()["message"] == "name in URL does not match name in Eviction object"
    assert evict(kube, "shop", "db-0", kind="Pod").status_code == 400
    stale = evict(kube, "shop", "db-0", deleteOptions={"preconditions": {"uid": "0000"}})
    assert stale.status_code == 409 and "Precondition failed" in stale.json()["message"]


def test_node_patches_take_merge_and_strategic_merge_but_not_json_patch(kube):
    merge = "application/merge-patch+json"
    strategic = "application/strategic-merge-patch+json"
    node = patch_node(kube, "node-1", {"spec": {"unschedulable": True}}, merge).json()
    assert node["spec"]["unschedulable"] is True
    assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}.items() <= (
        node["spec"]["taints"][0].items()
    )
    node = patch_node(kube, "node-1", {"spec": {"unschedulable": None}}, strategic).json()
    assert "unschedulable" not in node["spec"] and "taints" not in node["spec"]
    # status is a subresource: a patch of the node leaves it alone
    node = patch_node(kube, "node-1", {"status": {"allocatable": {"pods": "1"}}}, merge).json()
    assert node["status"]["allocatable"]["pods"] == "10"
    stale = {"metadata": {"resourceVersion": "1"}, "spec": {"unschedulable": True}}
    assert patch_node(kube, "node-1", stale, merge).status_code == 409
    ops = [{"op": "replace", "path": "/spec/unschedulable", "value": True}]
    refused = patch_node(kube, "node-1", ops, "application/json-patch+json")
    assert refused.status_code == 415 and refused.json()["reason"] == "UnsupportedMediaType"


def test_pods_filter_by_label_and_field_selectors_and_lists_page(kube):
    assert len(names(get(kube, "/api/v1/pods", labelSelector="app=web"))) == 3
    assert len(names(get(kube, "/api/v1/pods", labelSelector="app in (web,db)"))) == 5
    assert len(names(get(kube, "/api/v1/pods", labelSelector="app,app!=web"))) == 2
    on_node = names(get(kube, "/api/v1/pods", fieldSelector="spec.nodeName=node-1"))
    assert any(n.startswith("kube-proxy") for n in on_node)
    assert names(get(kube, "/api/v1/pods", fieldSelector="status.phase!=Running")) == []
    unknown = get(kube, "/api/v1/pods", fieldSelector="spec.hostname=x")
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "field label not supported: spec.hostname"

    everything, token = [], None
    while True:
        page = get(kube, "/api/v1/pods", limit=3, **({"continue": token} if token else {}))
        everything += names(page)
        token = page.json()["metadata"].get("continue")
        if not token:
            break
    assert everything == names(get(kube, "/api/v1/pods"))
    assert names(get(kube, "/api/v1/namespaces")) == ["default", "kube-system", "shop"]


def test_budget_status_is_computed_from_the_pods(kube):
    budgets = get(kube, "/apis/policy/v1/namespaces/shop/poddisruptionbudgets").json()["items"]
    status = {b["metadata"]["name"]: b["status"] for b in budgets}
    assert status["web"]["currentHealthy"] == 3 and status["web"]["desiredHealthy"] == 2
    assert status["web"]["disruptionsAllowed"] == 1 and status["web"]["expectedPods"] == 3
    assert status["db"]["desiredHealthy"] == 1 and status["db"]["disruptionsAllowed"] == 1
    assert len(names(get(kube, "/apis/policy/v1/poddisruptionbudgets"))) == 2
    web = [n for n in names(get(kube, "/api/v1/pods", labelSelector="app=web"))]
    assert evict(kube, "shop", web[0]).status_code == 201
    one = get(kube, "/apis/policy/v1/namespaces/shop/poddisruptionbudgets/web").json()
    assert one["status"]["currentHealthy"] == 2 and one["status"]["disruptionsAllowed"] == 0


def test_a_token_is_required_when_one_is_configured(make_kube):
    kube = make_kube(token="t0ken")
    refused = get(kube, "/api/v1/nodes")
    assert refused.status_code == 401 and refused.json()["reason"] == "Unauthorized"
    headers = {"Authorization": "Bearer t0ken"}
    response = requests.get(kube.url + "/api/v1/nodes", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200


def test_controllers_replace_deleted_pods_each_in_their_way(make_kube):
    kube = make_kube(terminate_seconds=1.0)
    cluster = kube.cluster

    def pod(namespace: str, name: str) -> dict | None:
        found = cluster.list_pods(namespace, fields=f"metadata.name={name}")
        return found[0] if found else None

    # A StatefulSet waits for the old pod to be gone, then re-uses its name.
    old = pod("shop", "db-0")
    requests.delete(f"{kube.url}/api/v1/namespaces/shop/pods/db-0", timeout=TIMEOUT)
    going = pod("shop", "db-0")
    assert "deletionTimestamp" in going["metadata"]  # and no second db-0 meanwhile
    assert going["metadata"]["uid"] == old["metadata"]["uid"]

    def replaced() -> bool:
        new = pod("shop", "db-0")
        return bool(new) and new["metadata"]["uid"] != old["metadata"]["uid"]

    assert eventually(replaced)

    # A DaemonSet puts its pod back on the same node; so does the kubelet for a mirror pod.
    for name in ("kube-proxy", "kube-apiserver"):
        (victim,) = [
            p
            for p in cluster.list_pods("kube-system", fields="spec.nodeName=control-plane-1")
            if p["metadata"]["name"].startswith(name)
        ]
        victim_name = victim["metadata"]["name"]
        requests.delete(
            f"{kube.url}/api/v1/namespaces/kube-system/pods/{victim_name}", timeout=TIMEOUT
        )

        def back(name=name, victim=victim) -> bool:
            return any(
                p["metadata"]["name"].startswith(name)
                and p["metadata"]["uid"] != victim["metadata"]["uid"]
                and p["status"]["phase"] == "Running"
                for p in cluster.list_pods("kube-system", fields="spec.nodeName=control-plane-1")
            )

        assert eventually(back), name
