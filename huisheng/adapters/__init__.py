"""Platform adapters, found through the entry-point group ``huisheng.adapters``.

The built-in Weibo adapter is registered in ``pyproject.toml`` exactly as a
third-party package would register its own.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from huisheng.adapters.base import Adapter, Http, Pace
from huisheng.errors import ConfigError

GROUP = "huisheng.adapters"

__all__ = ["Adapter", "Http", "Pace", "GROUP", "available", "load"]


def available() -> dict[str, EntryPoint]:
    """Installed adapters by platform name."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str) -> type[Adapter]:
    """The adapter class registered for platform ``name``."""
    found = available()
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigError(f"no adapter installed for platform {name!r} (installed: {known})")
    cls = found[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ConfigError(f"entry point {found[name].value!r} is not a huisheng Adapter")
    return cls
