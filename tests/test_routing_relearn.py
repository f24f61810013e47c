"""Routing that keeps learning, on a real database: which flags are examples,
``routing train --from-flags``, the decide step routing with a model (and
picking up a new file), and the daemon's retraining — trained when enough
flags settled, a worse model or a failed training never swapped in, and
nothing waiting for it."""

from __future__ import annotations

import csv
import logging
import random
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from flagkit import Kit
from huisheng.cli import main
from huisheng.flags import learn
from huisheng.flags.classify import build_directory
from huisheng.flags.process import Decider
from huisheng.flags.relearn import ModelHandle, RetrainJob, RoutingSettings, router_text, settled_flags
from huisheng.flags.rules import load_rules
from huisheng.clock import FakeClock
from huisheng.storage.models import Flag, FlagEvent, Unit

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "tests" / "data" / "routing-messages.csv"
SH = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=SH)
DISTRICT_UID = "1000000001"  # 示范区发布 (district)
#: the example district's department codes in routing-messages.csv → the sample matrix's
CODES = {"dept-jt": "B03", "dept-cg": "B08", "dept-jw": "B04", "dept-rs": "B05", "dept-wj": "B07",
         "dept-sthj": "B02", "dept-zj": "B01", "dept-scjg": "B10", "dept-ga": "B09", "dept-yb": "B21",
         "dept-mz": "B11", "dept-wl": "B14", "dept-gh": "B19"}
ELDERLY = "我父亲八十多岁了，每个月的高龄补贴一直没有发放，请问找谁"


def messages() -> list[tuple[str, str]]:
    with open(MESSAGES, encoding="utf-8") as f:
        return [(row["text"], CODES[row["unit"]]) for row in csv.DictReader(f)]


@pytest.fixture
def kit(db_url):
    kit = Kit(db_url)
    yield kit
    kit.close()


@pytest.fixture(scope="module")
def good_model():
    return learn.train([learn.Example(text, unit) for text, unit in messages()], now=T0 - timedelta(days=30))


def raise_flags(kit: Kit, texts: list[str], at: datetime = T0, account: str = DISTRICT_UID) -> list[Flag]:
    post = kit.post(account, at - timedelta(hours=1))
    for i, text in enumerate(texts):
        kit.comment(post, at + timedelta(seconds=i), text, author=(str(9000 + i), f"居民{i}"))
    Decider(kit.sessions, FakeClock(at + timedelta(hours=1)), load_rules(), kit.calendar, kit.sla).run()
    return kit.flags()


def settle(kit: Kit, flag: Flag, unit: str, at: datetime, how: str = "resolved") -> None:
    """What a unit does with a flag of its own: resolve or close it; or a person reassigns it there."""
    with kit.sessions.begin() as session:
        unit_id = session.scalar(select(Unit.id).where(Unit.code == unit))
        values = {"unit_id": unit_id, "updated_at": at}
        if how in ("resolved", "closed"):
            values.update(status=how, resolved_at=at, closed_at=at if how == "closed" else None)
        elif how == "dismissed":
            values.update(status="dismissed", dismissed_reason="不属于本单位")
        session.execute(update(Flag).where(Flag.id == flag.id).values(**values))
        if how == "reassigned":
            session.add(FlagEvent(flag_id=flag.id, at=at, kind="reassigned", actor="张科长", note="转交",
                                  data={"to_unit": unit_id}))


def settled_world(kit: Kit, pairs: list[tuple[str, str]] | None = None, at: datetime = T0) -> None:
    """The hand-written messages as flags on the district's account, each settled by its unit."""
    pairs = messages() if pairs is None else pairs
    flags = {f.comment_id: f for f in raise_flags(kit, [t for t, _ in pairs], at)}
    by_text = {}
    with kit.sessions() as session:
        from huisheng.storage.models import Comment

        for comment_id, text in session.execute(select(Comment.id, Comment.text)):
            by_text[text] = comment_id
    ways = ("resolved", "closed", "reassigned")
    for i, (text, unit) in enumerate(pairs):
        flag = flags.get(by_text[text])
        if flag is not None:
            settle(kit, flag, unit, at + timedelta(days=1, minutes=i), ways[i % 3])


def test_examples_are_flags_resolved_closed_or_reassigned_never_dismissed_or_historical(db_url):
    kit = Kit(db_url, accounts=40)  # with street and community accounts
    texts = ["请问小区门口的公交站什么时候恢复", "楼下烧烤摊油烟太大了晚上没法开窗", "孩子上学的学区怎么划分的",
             "低保申请被拒了该找谁", "社保断缴了怎么补缴", "医院挂号太难了建议增加号源"]
    flags = raise_flags(kit, texts)
    assert len(flags) == 6
    t = T0 + timedelta(days=2)
    settle(kit, flags[0], "B03", t, "resolved")
    settle(kit, flags[1], "B08", t + timedelta(hours=1), "closed")
    settle(kit, flags[2], "B04", t + timedelta(hours=2), "reassigned")
    settle(kit, flags[3], "B11", t, "dismissed")
    settle(kit, flags[4], "B05", t, "resolved")
    with kit.sessions.begin() as session:
        session.execute(update(Flag).where(Flag.id == flags[4].id).values(historical=True))
    # flags[5] is still open and where the rules put it: no example
    with kit.sessions() as session:
        found = settled_flags(session)
    assert [(s.flag_id, s.unit) for s in found] == [(flags[0].id, "B03"), (flags[1].id, "B08"), (flags[2].id, "B04")]
    assert [s.settled_at for s in found] == [t, t + timedelta(hours=1), t + timedelta(hours=2)]
    assert found[0].text == texts[0]
    # under a community's own account (属地管理) a resolved flag says nothing about routing; a reassigned one does
    community = next(a.uid for a in kit.matrix.accounts if a.unit == "S00C01")
    kit.comment(kit.post(community, T0), T0, "楼道里的灯坏了好久了，请问什么时候修", author=("9500", "赵六"))
    kit.comment(kit.post(community, T0), T0, "小区门口的公交站什么时候恢复", author=("9501", "钱七"))
    Decider(kit.sessions, FakeClock(T0 + timedelta(hours=1)), load_rules(), kit.calendar, kit.sla).run()
    own, moved = kit.flags()[-2:]
    assert own.unit_id == moved.unit_id == kit.unit("S00C01").id
    settle(kit, own, "S00C01", t + timedelta(hours=3), "resolved")
    settle(kit, moved, "B03", t + timedelta(hours=4), "reassigned")
    with kit.sessions() as session:
        assert [s.flag_id for s in settled_flags(session)][-1] == moved.id
        assert own.id not in {s.flag_id for s in settled_flags(session)}
        assert own.id in {s.flag_id for s in settled_flags(session, ("community",))}
    kit.close()


def _config(tmp_path: Path, db_url: str, **routing: str) -> Path:
    path = tmp_path / "huisheng.toml"
    lines = [f'[database]\nurl = "{db_url}"\n[routing]\nmodel = "routing.model"']
    lines += [f"{key} = {value}" for key, value in routing.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_routing_train_from_flags(kit, db_url, tmp_path):
    config = _config(tmp_path, db_url)
    runner = CliRunner()
    empty = runner.invoke(main, ["routing", "train", "--from-flags", "--config", str(config)])
    assert empty.exit_code == 1 and "数据库中还没有可学习的需回复" in empty.output
    settled_world(kit, messages()[:60])
    result = runner.invoke(main, ["routing", "train", "--from-flags", "--config", str(config)])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("已训练路由模型：") and "（flags " in first
    model = learn.load(tmp_path / "routing.model")
    assert model.meta["sources"] == {"flags": sum(model.examples.values())}
    assert set(model.examples) <= set(CODES.values()) and len(model.examples) >= 3
    info = runner.invoke(main, ["routing", "info", "--config", str(config)])
    assert info.exit_code == 0 and "样本来源：flags" in info.output


def test_the_decide_step_routes_with_the_model_and_picks_up_a_new_file(kit, tmp_path, good_model):
    path = tmp_path / "routing.model"
    learn.save(good_model, path)
    handle = ModelHandle(path, 0.5)
    post = kit.post(DISTRICT_UID, T0)
    kit.comment(post, T0, ELDERLY)
    decider = Decider(kit.sessions, FakeClock(T0), load_rules(), kit.calendar, kit.sla, learned=handle)
    decider.run()
    (flag,) = kit.flags()
    assert (flag.routing, flag.unit_id) == ("learned", kit.unit("B11").id)
    assert flag.routing_reason.startswith("学习模型 → 民政局（置信度 ")
    assert any(r["rule"] == "route/learned" for r in flag.reasons)
    with kit.sessions() as session:
        created = session.scalars(select(FlagEvent).where(FlagEvent.flag_id == flag.id)).one()
    assert created.note == flag.routing_reason

    # the file replaced (by `routing train` or the daemon): the next batch uses the new model
    swapped = [(t, "B03" if u == "B11" else u) for t, u in messages()]
    learn.save(learn.train([learn.Example(t, u) for t, u in swapped], now=T0), path)
    kit.comment(post, T0 + timedelta(minutes=1), ELDERLY, author=("9002", "李四"))
    decider.run()
    newest = kit.flags()[-1]
    assert (newest.routing, newest.unit_id) == ("learned", kit.unit("B03").id)


def test_the_daemon_trains_a_first_model_once_enough_flags_settled(kit, tmp_path, caplog):
    path = tmp_path / "routing.model"
    clock = FakeClock(T0 + timedelta(days=3))
    settled_world(kit, messages()[:20])
    handle = ModelHandle(path, 0.5)
    job = RetrainJob(kit.sessions, clock, RoutingSettings(model=path, retrain_min_new=30), handle, load_rules())
    job.run(clock.now())
    outcome = job.wait(60)
    assert outcome.outcome == "skipped" and not path.exists()  # 20 < 30 newly settled
    settled_world(kit, messages()[20:], T0 + timedelta(hours=2))
    caplog.set_level(logging.INFO, "huisheng.routing")
    job.run(clock.now())
    outcome = job.wait(60)
    assert outcome.outcome == "trained" and outcome.old_accuracy is None and outcome.held_back > 0
    assert path.exists() and handle.current().model.trained_at == clock.now()
    assert any("outcome=trained" in r.message and "new_accuracy=" in r.message for r in caplog.records)
    # a week has not passed: nothing to do, no thread
    clock.advance(86400)
    job.run(clock.now())
    assert job.wait(1) is outcome
    # a week later: held back are only flags settled since, which the model in use never saw
    settled_world(kit, [("再次反映：" + t, u) for t, u in messages()[:40]], T0 + timedelta(days=5))
    clock.advance(7 * 86400)
    job.run(clock.now())
    again = job.wait(60)
    assert again.outcome in ("trained", "kept") and again.old_accuracy is not None
    assert again.held_back == 40 < again.examples // 4


def test_a_worse_retrained_model_or_a_failed_training_is_not_swapped_in(kit, tmp_path, good_model, caplog):
    path = tmp_path / "routing.model"
    learn.save(good_model, path)
    before = path.read_bytes()
    settled_world(kit)
    clock = FakeClock(T0 + timedelta(days=3))

    def shuffled(examples, *, now):  # what a bad week's labels would teach
        units = [e.unit for e in examples]
        random.Random(1).shuffle(units)
        return learn.train([learn.Example(e.text, u) for e, u in zip(examples, units)], now=now)

    caplog.set_level(logging.INFO, "huisheng.routing")
    routing = RoutingSettings(model=path, retrain_min_new=30)
    handle = ModelHandle(path, 0.5)
    job = RetrainJob(kit.sessions, clock, routing, handle, load_rules(), trainer=shuffled)
    job.run(clock.now())
    outcome = job.wait(60)
    assert outcome.outcome == "kept" and outcome.new_accuracy < outcome.old_accuracy
    assert path.read_bytes() == before and handle.current().model.trained_at == good_model.trained_at
    warning = next(r.message for r in caplog.records if "outcome=kept" in r.message)
    assert f"old_accuracy={outcome.old_accuracy:.3f}" in warning and f"new_accuracy={outcome.new_accuracy:.3f}" in warning
    clock.advance(3600)  # the next hourly check: not tried again before retrain_days
    job.run(clock.now())
    assert job.wait(1) is outcome

    def broken(examples, *, now):
        raise MemoryError("no room")

    job = RetrainJob(kit.sessions, clock, routing, handle, load_rules(), trainer=broken)
    job.run(clock.now())
    assert job.wait(60).outcome == "failed" and path.read_bytes() == before

    # a model that knows less than the district's flags now teach is replaced
    learn.save(learn.train([learn.Example(t, u) for t, u in messages()[:40]], now=T0 - timedelta(days=30)), path)
    before = path.read_bytes()
    job = RetrainJob(kit.sessions, clock, routing, handle, load_rules())
    job.run(clock.now())
    outcome = job.wait(60)
    assert outcome.outcome == "trained" and outcome.new_accuracy >= outcome.old_accuracy
    assert handle.current().model.trained_at == clock.now() and path.read_bytes() != before


def test_retraining_never_blocks_deciding(kit, tmp_path, good_model):
    path = tmp_path / "routing.model"
    learn.save(good_model, path)
    settled_world(kit, messages()[::4])
    clock = FakeClock(T0 + timedelta(days=40))
    release, started = threading.Event(), threading.Event()

    def slow(examples, *, now):
        started.set()
        assert release.wait(60)
        return learn.train(examples, now=now)

    handle = ModelHandle(path, 0.5)
    job = RetrainJob(kit.sessions, clock, RoutingSettings(model=path, retrain_min_new=10), handle, load_rules(),
                     trainer=slow)
    job.run(clock.now())  # returns at once
    assert started.wait(30)
    post = kit.post(DISTRICT_UID, clock.now())
    kit.comment(post, clock.now(), ELDERLY, author=("9100", "王五"))
    result = Decider(kit.sessions, clock, load_rules(), kit.calendar, kit.sla, learned=handle).run()
    assert len(result.flags) == 1  # decided while the model was training
    release.set()
    assert job.wait(60).outcome in ("trained", "kept")


def test_router_text_is_what_the_decide_step_sees():
    rules = load_rules()
    from huisheng.simulator.sample import sample_matrix

    directory = build_directory(sample_matrix(12, streets=2))
    assert router_text("@示范区交通局 請問公交車", rules, directory, "weibo") == " " * 8 + "请问公交车"


def test_the_daemon_wires_the_model_and_its_retraining(tmp_path):
    from huisheng.app import build_runtime
    from huisheng.config import load_settings

    url = f"sqlite:///{tmp_path / 'huisheng.sqlite'}"
    config = _config(tmp_path, url, threshold="0.8", priority='["mention", "learned", "place"]')
    runtime = build_runtime(load_settings(config), FakeClock(T0))
    try:
        assert runtime.decider.learned.path == tmp_path / "routing.model"
        assert runtime.decider.learned.threshold == 0.8
        assert runtime.decider.rules.routing_priority == ("mention", "learned", "place", "account")
        assert "routing-retrain" in [job.name for job in runtime.jobs()]
    finally:
        runtime.close()
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    runtime = build_runtime(load_settings(config), FakeClock(T0))
    try:
        assert runtime.decider.learned is None and runtime.retrain is None
        assert "routing-retrain" not in [job.name for job in runtime.jobs()]
    finally:
        runtime.close()
