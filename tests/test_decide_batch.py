"""The decide step decides a batch at once: the routing model asked about all
its comments together, with the same decisions as one by one; and one comment
whose decision raises costs the others nothing and is flagged for a person."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from flagkit import Kit
from huisheng.adapters import text_conventions
from huisheng.clock import FakeClock
from huisheng.config.matrix import load_matrix
from huisheng.flags import classify, learn
from huisheng.flags.classify import Subject, build_directory, decide, decide_many
from huisheng.flags.process import Decider
from huisheng.flags.relearn import examples_from_csv
from huisheng.flags.rules import load_rules
from huisheng.storage.models import Account, Comment

ROOT = Path(__file__).resolve().parent.parent
SH = timezone(timedelta(hours=8))
DISTRICT = "5706878669"   # 沙坪坝发布: routes by place and topic
COMMUNITY = "5938376818"  # a community's own account: routes nowhere else (属地管理)


@dataclass(frozen=True)
class Counting(learn.Learned):
    """The model in use, counting how it is asked."""

    asked: list = None  # type: ignore[assignment]

    def predict(self, text):
        self.asked.append(("one", text))
        return super().predict(text)

    def predict_many(self, texts):
        texts = list(texts)
        self.asked.append(("many", texts))
        return super().predict_many(texts)


@pytest.fixture(scope="module")
def world():
    rules = load_rules()
    directory = build_directory(load_matrix(ROOT / "config" / "example-district"))
    model = learn.train(examples_from_csv(ROOT / "tests" / "data" / "routing-messages.csv", rules, directory),
                        now=datetime(2026, 11, 2, tzinfo=timezone.utc))
    return rules, directory, model


def subject(text, account=DISTRICT, author="42"):
    return Subject(text=text, author_id=author, author_name="居民", platform="weibo",
                   conventions=text_conventions("weibo"), account_uid=account)


def test_a_batch_asks_the_model_once_and_decides_as_one_by_one(world):
    rules, directory, model = world
    subjects = [subject("我父亲八十多岁了，每个月的高龄补贴一直没有发放，请问找谁"),
                subject("小区楼下的垃圾三天没人清运了，臭气熏天，谁来管管"),
                subject("感谢社区网格员的耐心帮助！"),  # praise: no reply, never asks the model
                subject("磁器口这边的路灯坏了一个星期了"),  # a place routes before the model
                subject("孩子上幼儿园的学费怎么又涨了？", account=COMMUNITY),  # 属地管理: the model is not asked
                subject("[赞][赞]"),
                subject("", author="")]
    one_by_one = [decide(s, rules, directory, learn.Learned(model, 0.3)) for s in subjects]
    counting = Counting(model, 0.3, [])
    assert decide_many(subjects, rules, directory, counting) == one_by_one
    ((how, texts),) = counting.asked
    assert how == "many" and len(texts) == 2  # the two the rules route by nothing before the model
    assert any(d.routing == "learned" for d in one_by_one)
    assert decide_many(subjects, rules, directory) == [decide(s, rules, directory) for s in subjects]
    assert decide_many([], rules, directory, counting) == []


def test_predicting_many_gives_each_texts_prediction_to_the_bit(world):
    _, _, model = world
    texts = ["", "!!", "高龄补贴没有发放", "zzz qqq", "垃圾没人清运，路灯坏了，学费涨了"] * 3
    assert model.predict_many(iter(texts)) == [model.predict(t, terms=0) for t in texts]


def test_one_comment_whose_decision_raises_costs_the_others_nothing(db_url, monkeypatch, caplog):
    kit = Kit(db_url)
    try:
        at = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
        post = kit.post(kit.matrix.accounts[0].uid, at)
        first, _ = kit.comment(post, at, "投诉：小区门口占道经营的摊贩天天堵路，城管管不管？")
        bad, bad_ext = kit.comment(post, at + timedelta(minutes=1), "请问办理居住证需要带什么材料？坏")
        last, _ = kit.comment(post, at + timedelta(minutes=2), "请问社区疫苗接种点周末开门吗？", author=("9002", "李四"))
        normalize = classify.normalize

        def breaks_on_one(text, rules):
            if text.endswith("坏"):
                raise ValueError("a text this version cannot read")
            return normalize(text, rules)

        monkeypatch.setattr(classify, "normalize", breaks_on_one)
        decider = Decider(kit.sessions, FakeClock(at + timedelta(hours=1)), load_rules(), kit.calendar, kit.sla)
        with caplog.at_level(logging.ERROR, logger="huisheng.flags"):
            result = decider.run()
        assert result.decided == 3 and result.failed == [bad]
        flags = {f.comment_id: f for f in kit.flags()}
        assert sorted(flags) == sorted([first, bad, last])
        # not lost: flagged for a person at the account's own unit, saying why
        failed = flags[bad]
        assert failed.routing == "account" and "自动判断出错" in failed.routing_reason
        with kit.sessions() as session:
            own_unit = session.scalar(select(Account.unit_id).where(Account.id == failed.account_id))
        assert failed.unit_id == own_unit
        (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert bad_ext in record.getMessage() and "ValueError" in record.getMessage() and record.exc_info
        with kit.sessions() as session:  # decided: not tried again batch after batch
            assert session.scalar(select(Comment.decided_at).where(Comment.id == bad)) is not None
        assert decider.run().decided == 0
    finally:
        kit.close()
