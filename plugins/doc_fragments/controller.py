# Copyright: Fenix for Ansible developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""How a module reaches the Fenix controller; paired with CONTROLLER_ARGSPEC in module_utils."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the Fenix controller's REST API, for example V(http://127.0.0.1:12347).
      - If not set, the value of the E(FENIX_URL) environment variable is used.
    type: str
    required: true
  token:
    description:
      - Token sent in the C(X-Auth-Token) header of every request.
      - If not set, the value of the E(FENIX_TOKEN) environment variable is used.
      - Leave it unset for a controller that does not check tokens.
    type: str
  validate_certs:
    description:
      - Whether to check the controller's TLS certificate when O(url) is C(https://).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the answer to one HTTP request.
    type: int
    default: 30
attributes:
  action_group:
    description:
      - Use C(group/fenix.maintenance.controller) in C(module_defaults) to set the controller's
        options (O(url), O(token), ...) once for every module of the group.
    support: full
    membership:
      - fenix.maintenance.controller
"""
