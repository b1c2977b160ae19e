"""Each node's zone from the well-known label topology.kubernetes.io/zone, through the driver
(the real kubernetes client over HTTP against the simulated API server)."""

from __future__ import annotations


def test_a_nodes_zone_is_its_topology_label_and_a_node_without_one_has_none(make_kube):
    kube = make_kube(nodes=4, zones=2, workloads=False)

    hosts = {h.name: h for h in kube.driver.list_hosts()}

    assert {name: hosts[name].zone for name in ("node-1", "node-2", "node-3", "node-4")} == {
        "node-1": "zone-1",
        "node-2": "zone-2",
        "node-3": "zone-1",
        "node-4": "zone-2",
    }
    assert hosts["control-plane-1"].zone is None
    labels = kube.cluster.nodes["node-2"]["metadata"]["labels"]
    assert labels["topology.kubernetes.io/zone"] == "zone-2"


def test_a_cluster_without_zones_gives_no_zone(bare):
    assert {h.zone for h in bare.driver.list_hosts()} == {None}
