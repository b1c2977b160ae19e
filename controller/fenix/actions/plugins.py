"""Finding an action plug-in's playbook by name.

Names are looked up, in order, in the session's own plug-in directory (downloaded plug-ins), the
directories the operator configured, and the collection's playbooks/actions. The FQCN form
`fenix.maintenance.actions.<name>` names a plug-in shipped with the collection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

BUILTIN_DIR = Path(__file__).parent / "playbooks"
COLLECTION_PREFIX = "fenix.maintenance.actions."
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class PluginNotFound(LookupError):
    pass


def collection_root() -> Path | None:
    """The fenix.maintenance collection these plug-ins belong to (the repository root)."""
    root = BUILTIN_DIR.resolve().parents[1]
    return root if (root / "galaxy.yml").is_file() else None


def builtin_plugins() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.yml"))


def missing_plugins(names: Iterable[str], search_dirs: Iterable[Path] = ()) -> dict[str, str]:
    """{name: why it cannot be resolved} for each of `names` not found in `search_dirs`."""
    dirs = list(search_dirs)
    missing = {}
    for name in names:
        try:
            resolve_playbook(name, dirs)
        except PluginNotFound as exc:
            missing[name] = str(exc)
    return missing


def is_plugin_name(name: str) -> bool:
    """A name a plug-in may have (also one still to be downloaded): no path, no traversal."""
    bare = name.removeprefix(COLLECTION_PREFIX)
    return bool(_NAME.match(bare))


def resolve_playbook(name: str, search_dirs: Iterable[Path] = ()) -> Path:
    """The playbook of plug-in `name`; PluginNotFound says where it looked."""
    if name.startswith(COLLECTION_PREFIX):
        name, dirs = name[len(COLLECTION_PREFIX) :], [BUILTIN_DIR]
    else:
        dirs = [*search_dirs, BUILTIN_DIR]
    if not is_plugin_name(name):
        raise PluginNotFound(f"{name!r} is not a plug-in name (letters, digits, . _ -)")
    for directory in dirs:
        for suffix in (".yml", ".yaml"):
            candidate = Path(directory) / f"{name}{suffix}"
            if candidate.is_file():
                return candidate.resolve()
    where = ", ".join(str(d) for d in dirs)
    raise PluginNotFound(f"no action plug-in {name!r} in {where}")
