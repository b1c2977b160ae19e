"""The simulated Kubernetes API server of tests/controller/simulators/kubernetes/fixtures.py,
for the driver's tests."""

from tests.controller.simulators.kubernetes.fixtures import (  # noqa: F401  (fixtures)
    bare,
    kube,
    make_kube,
)
