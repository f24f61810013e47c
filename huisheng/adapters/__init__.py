"""Platform adapters, found through the entry-point group ``huisheng.adapters``.

The built-in Weibo adapter is registered in ``pyproject.toml`` exactly as a
third-party package would register its own.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from huisheng.adapters.base import NO_CONVENTIONS, Adapter, Http, Pace, TextConventions
from huisheng.errors import ConfigError

GROUP = "huisheng.adapters"

__all__ = ["Adapter", "Http", "Pace", "TextConventions", "GROUP", "available", "load", "text_conventions"]


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


_conventions: dict[str, TextConventions] = {}


def text_conventions(name: str) -> TextConventions:
    """How platform ``name``'s texts mark replies, quotes, emoticons and
    mentions (its adapter's ``text_conventions``, looked up once); none at all
    when no adapter for it loads: nothing is masked rather than guessed."""
    found = _conventions.get(name)
    if found is None:
        try:
            found = _conventions[name] = load(name).text_conventions
        except Exception:  # uninstalled since, or broken: not remembered, it may be mended
            return NO_CONVENTIONS
    return found
