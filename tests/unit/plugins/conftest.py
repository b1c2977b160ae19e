"""Make the collection importable as ``ansible_collections.fenix.maintenance`` under pytest.

ansible-test units runs these tests inside an ``ansible_collections/fenix/maintenance`` tree,
where the import just works. Run from the repository (whose root is the collection), a
temporary ``ansible_collections/fenix/maintenance`` symlink to the root stands in for it.
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path


def _collection_importable() -> bool:
    try:
        return importlib.util.find_spec("ansible_collections.fenix.maintenance") is not None
    except ImportError:
        return False


if not _collection_importable():
    _ROOT = Path(__file__).resolve().parents[3]
    _TREE = Path(tempfile.mkdtemp(prefix="fenix-collections-"))
    (_TREE / "ansible_collections" / "fenix").mkdir(parents=True)
    (_TREE / "ansible_collections" / "fenix" / "maintenance").symlink_to(_ROOT)
    sys.path.insert(0, str(_TREE))
    atexit.register(shutil.rmtree, _TREE, True)
