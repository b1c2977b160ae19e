"""A sample VNF manager, so a maintenance session can be watched with a project's manager in the
loop (`fenix demo`, `fenix vnfm`) and tests can put slow, silent or NACKing managers against it.
"""

from fenix.vnfm.app import create_vnfm_app
from fenix.vnfm.config import VnfmConfig
from fenix.vnfm.manager import SampleVnfm, VnfmError
from fenix.vnfm.run import run_vnfm

__all__ = ["SampleVnfm", "VnfmConfig", "VnfmError", "create_vnfm_app", "run_vnfm"]
