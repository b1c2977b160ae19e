"""The simulated Kubernetes API server of tests/controller/simulators/kubernetes/fixtures.py,
for the simulator's tests."""

from tests.controller.simulators.kubernetes.fixtures import (  # noqa: F401  (fixtures)
    kube,
    make_kube,
)
