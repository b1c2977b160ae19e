"""The only warnings ignored in tests that build an openstacksdk connection.

openstacksdk (4.22) warns about its own internals, not about our calls, on every connection
("Support for InfluxDB ...", raised even with no InfluxDB configured) and on every request
("The 'service_type' parameter is unnecesary", "_compute_attributes ... deprecated"). They are
PendingDeprecationWarnings, ignored outside tests; only these three messages are ignored here,
with ``pytestmark = OPENSTACKSDK_MARKS`` in a test module. They must be ignored by the test,
not by a thread: warning filters are process-wide, so the engine's threads talking to the SDK
are covered too.
"""

from __future__ import annotations

import pytest

OPENSTACKSDK_INTERNAL_WARNINGS = (
    "ignore:Support for InfluxDB requires:PendingDeprecationWarning",
    "ignore:The 'service_type' parameter is unnecesary:PendingDeprecationWarning",
    "ignore:The _compute_attributes method is deprecated:PendingDeprecationWarning",
)

OPENSTACKSDK_MARKS = [pytest.mark.filterwarnings(spec) for spec in OPENSTACKSDK_INTERNAL_WARNINGS]
