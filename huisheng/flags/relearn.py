"""Keeping the routing model learning: ``[routing]`` in the config, the model
file as the decide step sees it, the district's settled flags as examples, and
the daemon's retraining job.

A settled flag is an example "this text belongs to that unit": resolved or
closed (办结, 办结销号) by the unit that owns it, or reassigned to that unit
(the strongest signal: a person moved it there); never a dismissed or a
historical flag.  A flag resolved under a street's or a community's own
account teaches nothing about routing (属地管理: such an account answers
everything itself, whatever the matter), so only those raised where the rules
route (the district's and departments' accounts, by default) count, and
reassigned ones from anywhere.

Importing this module declares the ``[routing]`` table (``load_settings``
imports it); numpy and scikit-learn are imported only when a model is used.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from huisheng.adapters import text_conventions
from huisheng.flags.classify import Directory, Subject, build_directory, mask_mentions, normalize
from huisheng.flags.rules import Rules
from huisheng.clock import Clock
from huisheng.config import Key, Table, register_table
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, Unit
from huisheng.config.settings import Settings
from huisheng.vocabulary import RULE_ROUTINGS, FlagState

if TYPE_CHECKING:
    from huisheng.flags.learn import Example, Learned, RoutingModel

log = logging.getLogger("huisheng.routing")

SETTLED = (FlagState.RESOLVED.value, FlagState.CLOSED.value)


def _range(low: float, high: float, *, low_open: bool = False):
    def check(value: float) -> str | None:
        if value != value or value < low or value > high or (low_open and value == low):
            return f"应在 {low:g}{'（不含）' if low_open else ''} 到 {high:g} 之间，实际为 {value}"
        return None
    return check


def _priority(value: tuple[str, ...]) -> str | None:
    unknown = [v for v in value if v not in RULE_ROUTINGS]
    if unknown:
        return f"未知的分派方式 {'、'.join(unknown)}（可用：{'、'.join(RULE_ROUTINGS)}）"
    return None


ROUTING_TABLE = Table({
    "model": Key("str", doc="the routing model file (huisheng routing train); absent: the rules alone route"),
    "threshold": Key("float", default=0.5, check=_range(0, 1, low_open=True),
                     doc="the model's confidence from which its unit is taken"),
    "priority": Key("str_list", check=_priority,
                    doc="routing order (mention, place, learned, topic, account); absent: the rules file's"),
    "retrain": Key("bool", default=True, doc="the daemon retrains the model from settled flags"),
    "retrain_days": Key("float", default=7.0, check=_range(0, 366, low_open=True),
                        doc="days between retrainings at the most"),
    "retrain_min_new": Key("int", default=50, check=_range(1, 10_000_000),
                           doc="flags settled since the model was trained needed to retrain"),
    "holdout": Key("float", default=0.2, check=_range(0, 0.5, low_open=True),
                   doc="share of the newest settled flags held back to compare the old and new model"),
    "csv": Key("str_list", default=(), doc="labelled files (text, unit) added to the flags when retraining"),
})

register_table("routing", ROUTING_TABLE)


@dataclass(frozen=True)
class RoutingSettings:
    model: Path | None = None
    threshold: float = 0.5
    priority: tuple[str, ...] | None = None
    retrain: bool = True
    retrain_days: float = 7.0
    retrain_min_new: int = 50
    holdout: float = 0.2
    csv: tuple[Path, ...] = ()


def routing_from_settings(settings: Settings) -> RoutingSettings:
    values = settings.extra.get("routing")
    if values is None:  # Settings built without load_settings (tests, defaults)
        return RoutingSettings()
    base = Path(settings.path).parent

    def path(value: str) -> Path:
        return Path(os.path.abspath(base / value))

    return RoutingSettings(model=path(values["model"]) if values["model"] else None,
                           threshold=values["threshold"],
                           priority=tuple(values["priority"]) if values["priority"] is not None else None,
                           retrain=values["retrain"], retrain_days=values["retrain_days"],
                           retrain_min_new=values["retrain_min_new"], holdout=values["holdout"],
                           csv=tuple(path(v) for v in values["csv"]))


def with_priority(rules: Rules, routing: RoutingSettings) -> Rules:
    """The rules with the config's routing order, when it gives one (the
    account's owner stays the last fallback)."""
    if routing.priority is None:
        return rules
    return replace(rules, routing_priority=tuple(dict.fromkeys([*routing.priority, "account"])))


def router_text(text: str, rules: Rules, directory: Directory, platform: str) -> str:
    """``text``, written on ``platform``, as the router sees it in the decide
    step: normalized, mentions masked as that platform writes them."""
    subject = Subject(text=text, author_id="", author_name="", platform=platform, account_uid="",
                      conventions=text_conventions(platform))
    return mask_mentions(normalize(text, rules), subject, directory)[0]


# --- the model in use ---------------------------------------------------------


class ModelHandle:
    """The configured model file as the decide step uses it: loaded once, and
    again whenever the file changes (``routing train --out`` over it, or the
    retraining job), checked with one ``stat`` per call.  A file that cannot be
    loaded is logged and the model loaded before stays in use; no file, no model."""

    def __init__(self, path: Path, threshold: float):
        self.path = Path(path)
        self.threshold = threshold
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._failed: tuple[int, int, int] | None = None
        self._learned: Learned | None = None

    def current(self) -> Learned | None:
        try:
            st = os.stat(self.path)
        except OSError:
            if self._learned is not None or self._signature is not None:
                log.warning("routing model file=%s is gone: routing by the rules alone", self.path)
            self._learned, self._signature = None, None
            return None
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        if signature == self._signature or signature == self._failed:
            return self._learned
        with self._lock:
            if signature != self._signature:
                self._load(signature)
        return self._learned

    def _load(self, signature: tuple[int, int, int]) -> None:
        from huisheng.flags.learn import Learned, RoutingModelError, load

        try:
            model = load(self.path)
        except RoutingModelError as exc:
            self._failed = signature
            log.error("routing model not loaded: %s", exc)
            return
        self._learned, self._signature = Learned(model, self.threshold), signature
        log.info("routing model loaded file=%s trained_at=%s examples=%d units=%d", self.path,
                 model.meta.get("trained_at"), sum(model.examples.values()), len(model.units))

    def adopt(self, model: RoutingModel) -> None:
        """Use ``model``, just written to the file, without reading it back."""
        from huisheng.flags.learn import Learned

        st = os.stat(self.path)
        with self._lock:
            self._learned = Learned(model, self.threshold)
            self._signature = (st.st_mtime_ns, st.st_size, st.st_ino)


def handle_from_settings(settings: Settings) -> ModelHandle | None:
    routing = routing_from_settings(settings)
    return ModelHandle(routing.model, routing.threshold) if routing.model is not None else None


# --- examples from flags -------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """A settled flag as an example: its comment's text, its unit, when it settled."""

    flag_id: int
    text: str
    unit: str
    settled_at: datetime
    #: where the comment was written (how its text marks mentions)
    platform: str


def _settled(levels: Collection[str], *columns: Any) -> Select:
    """The settled flags (resolved or closed by the unit they belong to now,
    raised under an account of a unit of ``levels``; or reassigned; not
    dismissed, not historical) with ``columns`` and when they settled."""
    reassigned = (select(FlagEvent.flag_id, func.max(FlagEvent.at).label("at"))
                  .where(FlagEvent.kind == "reassigned").group_by(FlagEvent.flag_id).subquery())
    owner = aliased(Unit)
    return (select(*columns, Flag.resolved_at, Flag.closed_at, reassigned.c.at)
            .select_from(Flag)
            .join(Account, Account.id == Flag.account_id)
            .join(owner, owner.id == Account.unit_id)
            .outerjoin(reassigned, reassigned.c.flag_id == Flag.id)
            .where(Flag.historical.is_(False), Flag.status != "dismissed")
            .where((Flag.status.in_(SETTLED) & owner.level.in_(list(levels))) | reassigned.c.at.is_not(None)))


def newly_settled(session: Session, levels: Collection[str], since: datetime | None) -> int:
    """How many flags settled after ``since`` (all when None), without reading their texts."""
    times = session.execute(_settled(levels, Flag.id)).all()
    return sum(1 for _, *at in times if (last := max((t for t in at if t is not None), default=None)) is not None
               and (since is None or last > since))


def settled_flags(session: Session, levels: Collection[str] = ("district", "department")) -> list[Settled]:
    """Every settled flag (see :func:`_settled`) with its text and unit, oldest settlement first."""
    rows = session.execute(_settled(levels, Flag.id, Comment.text, Unit.code, Comment.platform)
                           .join(Comment, Comment.id == Flag.comment_id)
                           .join(Unit, Unit.id == Flag.unit_id)).all()
    out = []
    for flag_id, text, unit, platform, resolved_at, closed_at, reassigned_at in rows:
        times = [t for t in (resolved_at, closed_at, reassigned_at) if t is not None]
        if times and text:
            out.append(Settled(flag_id, text, unit, max(times), platform))
    out.sort(key=lambda s: (s.settled_at, s.flag_id))
    return out


def routing_levels(rules: Rules) -> frozenset[str]:
    """The levels of accounts under which the rules route comments elsewhere."""
    return rules.place_levels | rules.topic_levels


def examples_from_flags(session: Session, rules: Rules, directory: Directory) -> list[Example]:
    from huisheng.flags.learn import Example

    return [Example(router_text(s.text, rules, directory, s.platform), s.unit, "flags")
            for s in settled_flags(session, routing_levels(rules))]


def examples_from_csv(path: Path, rules: Rules, directory: Directory) -> list[Example]:
    """The rows of a labelled CSV (``text`` and ``unit``, the unit by code or
    name); a row without a unit, or with one the matrix lacks, is an error naming it."""
    from huisheng.errors import ConfigError
    from huisheng.flags.evaluate import default_account, read_labelled
    from huisheng.flags.learn import Example
    from huisheng.errors import ConfigErrors

    # the account does not matter to the model; any will do for a file without one
    rows = read_labelled(path, directory, default_account(directory) or next(iter(directory.account_units), None))
    if not rows:
        raise ConfigError("标注文件没有数据行", file=str(path))
    missing = [r for r in rows if r.unit is None]
    if len(missing) == len(rows):
        raise ConfigError("缺少 unit 列（每行的负责单位：单位代码或名称）", file=str(path), line=1)
    if missing:
        raise ConfigErrors([ConfigError("缺少负责单位", file=str(path), key="unit", line=r.line) for r in missing])
    return [Example(router_text(r.text, rules, directory, r.account[0]), r.unit, Path(path).name) for r in rows]


# --- retraining ----------------------------------------------------------------


@dataclass(frozen=True)
class RetrainOutcome:
    #: trained | kept | skipped | failed
    outcome: str
    examples: int = 0
    held_back: int = 0
    old_accuracy: float | None = None
    new_accuracy: float | None = None
    detail: str = ""


class RetrainJob:
    """The daemon's job: at most every ``retrain_days``, when at least
    ``retrain_min_new`` flags settled since the model in use was trained, train
    a new model on the settled flags (and the configured CSV files) except the
    newest ``holdout`` share (only flags settled since the model in use was
    trained, which it never saw), score the old and the new model on that
    held-back share, and put the new one in place (atomically) only if it does
    at least as well; training failing keeps the old one.  Both figures are logged.

    ``run`` returns at once: the work runs in a thread of its own, so polling
    and deciding never wait for it (and scikit-learn's solver releases the GIL)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, routing: RoutingSettings,
                 handle: ModelHandle, rules: Rules, *, directory: Callable[[Session], Directory] | None = None,
                 trainer: Callable[..., RoutingModel] | None = None):
        self.sessions = sessions
        self.clock = clock
        self.routing = routing
        self.handle = handle
        self.rules = rules
        self._directory = directory or _directory_from_db
        self._trainer = trainer
        self._thread: threading.Thread | None = None
        #: when a training last ran (kept or failed, it is not tried again before ``retrain_days``)
        self._trained: datetime | None = None
        self.last: RetrainOutcome | None = None

    def run(self, now: datetime | None = None) -> None:
        if not self.routing.retrain or (self._thread is not None and self._thread.is_alive()):
            return
        now = now or self.clock.now()
        current = self.handle.current()
        trained_at = current.model.trained_at if current is not None else None
        every = timedelta(days=self.routing.retrain_days)
        if any(t is not None and now - t < every for t in (trained_at, self._trained)):
            return
        self._thread = threading.Thread(target=self._guarded, args=(now, current, trained_at),
                                        name="routing-retrain", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> RetrainOutcome | None:
        """Until the retraining in progress (if any) ends (tests, the demo)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.last

    def _guarded(self, now: datetime, current: Learned | None, trained_at: datetime | None) -> None:
        try:
            self.last = self.retrain(now, current, trained_at)
        except Exception as exc:  # the old model stays; the next run tries again
            log.exception("routing retrain outcome=failed: the model in use stays")
            self.last = RetrainOutcome("failed", detail=f"{type(exc).__name__}: {exc}")

    def retrain(self, now: datetime, current: Learned | None, trained_at: datetime | None) -> RetrainOutcome:
        from huisheng.flags.learn import Example, save, train

        levels = routing_levels(self.rules)
        with self.sessions() as session:
            new = newly_settled(session, levels, trained_at)  # an hourly check reads no texts
            if new < self.routing.retrain_min_new:
                log.info("routing retrain outcome=skipped newly_settled=%d needed=%d", new,
                         self.routing.retrain_min_new)
                return RetrainOutcome("skipped", detail=f"{new} newly settled")
            directory = self._directory(session)
            settled = settled_flags(session, levels)
        self._trained = now
        held = max(1, int(len(settled) * self.routing.holdout))
        if trained_at is not None:
            held = min(held, new)  # only flags the model in use never saw, or the comparison favours it
        flags = [Example(router_text(s.text, self.rules, directory, s.platform), s.unit, "flags") for s in settled]
        training, held_back = flags[:-held], flags[-held:]
        for path in self.routing.csv:
            training += examples_from_csv(path, self.rules, directory)
        try:
            model = (self._trainer or train)(training, now=now)
        except Exception as exc:
            log.error("routing retrain outcome=failed examples=%d error=%s: the model in use stays",
                      len(training), exc)
            return RetrainOutcome("failed", len(training), held, detail=str(exc))
        new_accuracy = _accuracy(model, held_back)
        old_accuracy = _accuracy(current.model, held_back) if current is not None else None
        if old_accuracy is not None and new_accuracy < old_accuracy:
            log.warning("routing retrain outcome=kept examples=%d held_back=%d old_accuracy=%.3f "
                        "new_accuracy=%.3f: the new model is worse, the model in use stays",
                        len(training), held, old_accuracy, new_accuracy)
            return RetrainOutcome("kept", len(training), held, old_accuracy, new_accuracy)
        save(model, self.handle.path)
        self.handle.adopt(model)
        log.info("routing retrain outcome=trained examples=%d held_back=%d old_accuracy=%s new_accuracy=%.3f "
                 "file=%s", len(training), held, "-" if old_accuracy is None else f"{old_accuracy:.3f}",
                 new_accuracy, self.handle.path)
        return RetrainOutcome("trained", len(training), held, old_accuracy, new_accuracy)


def _accuracy(model: RoutingModel, examples: Sequence[Example]) -> float:
    predictions = model.predict_many(e.text for e in examples)
    return sum(1 for p, e in zip(predictions, examples) if p is not None and p.unit == e.unit) / len(examples)


def _directory_from_db(session: Session) -> Directory:
    from huisheng.storage.matrix_sync import matrix_from_db

    return build_directory(matrix_from_db(session)[0])


def retrain_job(settings: Settings, sessions: sessionmaker[Session], clock: Clock, rules: Rules,
                handle: ModelHandle | None) -> RetrainJob | None:
    routing = routing_from_settings(settings)
    if handle is None or not routing.retrain:
        return None
    return RetrainJob(sessions, clock, routing, handle, rules)


__all__ = ["ModelHandle", "RetrainJob", "RetrainOutcome", "RoutingSettings", "Settled", "examples_from_csv",
           "examples_from_flags", "handle_from_settings", "retrain_job", "router_text", "routing_from_settings",
           "settled_flags", "with_priority"]
