"""Platform adapters, found through the entry-point group ``huisheng.adapters``.

The built-in adapter is registered in ``pyproject.toml`` exactly as a
third-party package would register its own.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from huisheng.adapters.base import NO_CONVENTIONS, Adapter, Http, Pace, TextConventions
from huisheng.errors import ConfigError

GROUP = "huisheng.adapters"

__all__ = ["Adapter", "Http", "Pace", "TextConventions", "GROUP", "available", "load", "platform_label",
           "source_label", "text_conventions"]


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


_loaded: dict[str, type[Adapter]] = {}


def _declared(name: str) -> type[Adapter] | None:
    """The adapter class of platform ``name`` for what it declares (labels,
    conventions), loaded once; None when it is not installed or does not load
    (not remembered: it may be installed or mended meanwhile)."""
    cls = _loaded.get(name)
    if cls is None:
        try:
            cls = _loaded[name] = load(name)
        except Exception:  # uninstalled since, or broken
            return None
    return cls


def platform_label(name: str, lang: str = "zh") -> str:
    """What district staff call platform ``name`` (its adapter's ``label``);
    the name itself when the adapter has none or does not load."""
    cls = _declared(name)
    label = cls.label if cls is not None else None
    return name if label is None else label[0] if lang == "zh" else label[1]


def source_label(platform: str, kind: str, lang: str = "zh") -> str:
    """A source of platform ``platform`` (``Source.kind``) in words; the kind
    itself when its adapter says nothing of it or does not load."""
    cls = _declared(platform)
    words = cls.source_labels.get(kind) if cls is not None else None
    return kind if words is None else words[0] if lang == "zh" else words[1]


def text_conventions(name: str) -> TextConventions:
    """How platform ``name``'s texts mark replies, quotes, emoticons and
    mentions (its adapter's ``text_conventions``); none at all when no adapter
    for it loads: nothing is masked rather than guessed."""
    cls = _declared(name)
    return cls.text_conventions if cls is not None else NO_CONVENTIONS
