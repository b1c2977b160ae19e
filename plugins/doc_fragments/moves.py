# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""How a module that moves instances runs and waits for the moves; paired with MOVES_ARGSPEC
in module_utils/_cloud.py.

Only the options that mean the same and default the same in every module that moves
instances are here; migration_type, fallback_to_migrate and target_host stay with each module
because their defaults or wording differ.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  max_concurrent:
    description:
      - How many instances are moved at the same time.
    type: int
    default: 4
  wait:
    description:
      - Wait until every move has ended. With V(false) the moves are started and the module
        returns their handles at once.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for all the moves together.
    type: int
    default: 600
"""
