"""Platforms the simulator serves beside Weibo.

Each module here simulates one platform for the matrix's accounts of that
platform, on the same port as the Weibo paths, with the same clock, faults and
ground truth.  A platform simulator is a class registered in :data:`PLATFORMS`
under its adapter's name, built with the :class:`~huisheng.simulator.World`
(for the seed, the matrix, the places and the citizens) and answering:

- ``route(path, q, headers, now)`` → ``(endpoint, account uid, answer, first)``
  as :meth:`SimServer.route` does, or ``None`` for a path that is not its own;
  ``answer(now)`` returns ``(status, payload)`` or ``(status, payload, headers)``,
  where a ``bytes`` payload is sent as is (its ``Content-Type`` in the headers);
- ``truth(now)`` → ``{"posts": [...], "comments": [...]}`` in the shapes of the
  World's truth, each row with ``"platform"``;
- ``adapter_options(base_url)`` → the adapter's options that read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, Protocol

Answer = Callable[[datetime], tuple]


class PlatformSim(Protocol):
    name: str

    def route(self, path: str, q: Mapping[str, str], headers: Mapping[str, str], now: datetime
              ) -> tuple[str, str, Answer, bool] | None: ...

    def truth(self, now: datetime) -> dict[str, list[dict[str, Any]]]: ...

    def adapter_options(self, base_url: str) -> dict[str, Any]: ...


#: adapter name → the class simulating it; modules register themselves on import
PLATFORMS: dict[str, type] = {}


def register(cls: type) -> type:
    PLATFORMS[cls.name] = cls
    return cls


def load_all() -> dict[str, type]:
    """Import every platform module of this package (they register themselves)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return PLATFORMS
