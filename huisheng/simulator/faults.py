"""Fault injection rules: which requests of which account fail, and how."""

from __future__ import annotations

import json
import random
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from huisheng.errors import ConfigError

KINDS = frozenset({"timeout", "reset", "500", "502", "503", "418", "432", "401", "403", "429", "captcha",
                   "login_wall", "redirect_login", "truncated_json", "renamed_field", "empty"})
#: endpoint names, as ``huisheng parse --endpoint`` names them (plus profile, ajax_status and ajax_longtext)
ENDPOINTS = frozenset({"profile", "timeline", "longtext", "status", "comments", "child_comments",
                       "comments_old", "ajax_timeline", "ajax_status", "ajax_longtext", "ajax_comments",
                       "search", "ajax_mentions", "ajax_comment_mentions",
                       # the other platforms' endpoints (huisheng/simulator/platforms)
                       "feed"})
_FIELDS = {"account", "endpoint", "fault", "count", "probability", "retry_after", "hold"}


@dataclass(frozen=True)
class FaultRule:
    """``fault`` for requests of ``account`` (a uid or ``*``) on ``endpoint`` (or ``*``):
    the first ``count`` matching requests (every one when None), each with ``probability``.
    ``retry_after`` (seconds) goes into a Retry-After header; ``hold`` is how long a
    ``timeout`` keeps the connection open before closing it without an answer.
    ``empty`` answers as Weibo does for a thread it claims is large: "还没有人评论" on
    the comment listings, the "暂无数据" HTML page on ``child_comments``, "这里还没有内容"
    elsewhere."""

    fault: str
    account: str = "*"
    endpoint: str = "*"
    count: int | None = None
    probability: float = 1.0
    retry_after: float | None = None
    hold: float = 2.0

    def matches(self, account: str, endpoint: str) -> bool:
        return self.account in ("*", account) and self.endpoint in ("*", endpoint)


def platform_endpoints() -> frozenset[str]:
    """The endpoints the other platforms' simulators serve (their ``endpoints``)."""
    from huisheng.simulator.platforms import load_all

    return frozenset(e for cls in load_all().values() for e in getattr(cls, "endpoints", ()))


def parse_rules(data: Any, source: str = "<faults>") -> list[FaultRule]:
    """Rules from a list of mappings, or a mapping with a ``faults`` list."""
    if isinstance(data, Mapping):
        data = data.get("faults", [])
    if not isinstance(data, list):
        raise ConfigError("expected a list of fault rules", file=source, key="faults")
    rules = []
    for i, raw in enumerate(data):
        key = f"faults[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError("expected a table", file=source, key=key)
        unknown = set(raw) - _FIELDS
        if unknown:
            raise ConfigError(f"unknown keys {sorted(unknown)}", file=source, key=key)
        fault = str(raw.get("fault", ""))
        if fault not in KINDS:
            raise ConfigError(f"fault must be one of {sorted(KINDS)}", file=source, key=f"{key}.fault")
        endpoint = str(raw.get("endpoint", "*"))
        known = ENDPOINTS | platform_endpoints()
        if endpoint != "*" and endpoint not in known:
            raise ConfigError(f"endpoint must be '*' or one of {sorted(known)}", file=source,
                              key=f"{key}.endpoint")
        try:
            count = None if raw.get("count") is None else int(raw["count"])
            probability = float(raw.get("probability", 1.0))
            retry_after = None if raw.get("retry_after") is None else float(raw["retry_after"])
            hold = float(raw.get("hold", 2.0))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad number ({exc})", file=source, key=key) from exc
        if not 0.0 <= probability <= 1.0:
            raise ConfigError("probability must be within 0..1", file=source, key=f"{key}.probability")
        rules.append(FaultRule(fault=fault, account=str(raw.get("account", "*")), endpoint=endpoint,
                               count=count, probability=probability, retry_after=retry_after, hold=hold))
    return rules


def load_faults(path: Path) -> list[FaultRule]:
    """Rules from a TOML (``[[faults]]`` tables) or JSON file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read ({exc.strerror})", file=str(path)) from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}", file=str(path)) from exc
    return parse_rules(data, str(path))


class FaultSet:
    """The live rule list; picks the fault (if any) for one request.  Thread-safe;
    probabilities come from one seeded RNG so a run is reproducible."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0):
        self._lock = threading.Lock()
        self._rng = random.Random(f"{seed}:faults")
        self.replace(rules)

    def replace(self, rules: Iterable[FaultRule]) -> None:
        with self._lock:
            self._rules = list(rules)
            self._fired = [0] * len(self._rules)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, account: str, endpoint: str) -> FaultRule | None:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if not rule.matches(account, endpoint):
                    continue
                if rule.count is not None and self._fired[i] >= rule.count:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                self._fired[i] += 1
                return rule
        return None
