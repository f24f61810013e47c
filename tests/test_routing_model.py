"""Routing that learns, without a database: the model (features, scoring,
confidence, the file), and the router with it in place — held-back messages
routed better than by the rules alone, its reason, its threshold, 属地管理 and
the priority."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from huisheng.flags import learn
from huisheng.adapters import text_conventions
from huisheng.flags.classify import Subject, build_directory, decide
from huisheng.flags.evaluate import Labelled, default_account, evaluate
from huisheng.flags.relearn import RoutingSettings, examples_from_csv, router_text, with_priority
from huisheng.flags.rules import load_rules
from huisheng.config.matrix import load_matrix

WEIBO_TEXT = text_conventions("weibo")

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "tests" / "data" / "routing-messages.csv"
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
DISTRICT = "5706878669"        # 沙坪坝发布 → spb
URBAN = "5901922696"           # 沙坪坝城管 → dept-cg
COMMUNITY = "5938376818"       # 磁器口磁南街社区 → comm-ciqikou-01
ELDERLY = "我父亲八十多岁了，每个月的高龄补贴一直没有发放，请问找谁"


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def directory():
    return build_directory(load_matrix(ROOT / "config" / "example-district"))


@pytest.fixture(scope="module")
def examples(rules, directory):
    return examples_from_csv(MESSAGES, rules, directory)


@pytest.fixture(scope="module")
def model(examples):
    return learn.train(examples, now=NOW)


def decided(text, rules, directory, account=DISTRICT, learned=None):
    return decide(Subject(text=text, author_id="42", author_name="居民", platform="weibo",
                          conventions=WEIBO_TEXT, account_uid=account), rules, directory,
                  learned)


def test_features_are_character_ngrams_within_runs_with_digits_folded():
    assert learn.features("路灯,坏了3天") == ["路", "灯", "路灯", "坏", "了", "0", "天", "坏了", "了0", "0天",
                                              "坏了0", "了0天"]
    assert learn.features("  ,。!") == []


def test_the_models_own_scoring_is_scikit_learns(examples):
    counter, counts = learn._count([e.text for e in examples])
    fitted = learn._fit(counts, [e.unit for e in examples])
    exported = learn._export(counter.vocabulary_, fitted, 1.0)
    texts = ["请问孩子上学的学区怎么划分", "小区门口烧烤摊的油烟太大了", "低保申请被拒绝了怎么办"]
    expected = fitted.svm.decision_function(fitted.tfidf.transform(counter.transform(texts)))
    ours = np.vstack([exported.scores(t) for t in texts])
    assert np.allclose(ours, expected, atol=1e-4)
    assert [exported.predict(t).unit for t in texts] == [fitted.units[i] for i in expected.argmax(axis=1)]


def test_a_model_routes_held_back_messages_better_than_the_rules_alone(examples, rules, directory):
    """Five times a fifth of the hand-written 问政 messages is held back, a model
    trained on the rest, and the held-back fifth decided with the rules alone
    and with the model in place (district account, default threshold)."""
    account = default_account(directory)
    with_model = alone = judged = 0
    for k in range(5):
        train = [e for i, e in enumerate(examples) if i % 5 != k]
        held = [e for i, e in enumerate(examples) if i % 5 == k]
        model = learn.train(train, now=NOW)
        rows = [Labelled(i, e.text, account, None, True, e.unit) for i, e in enumerate(held)]
        rules_only = evaluate(rows, rules, directory).metrics["routing"]
        learned = evaluate(rows, rules, directory, learn.Learned(model, 0.5)).metrics["routing"]
        assert learned["by_routing"]["learned"]["judged"] > 0
        alone += rules_only["correct"]
        with_model += learned["correct"]
        judged += rules_only["judged"]
    assert judged > 200
    assert with_model / judged >= alone / judged + 0.04, (alone, with_model, judged)


def test_the_routing_reason_says_learned_with_the_confidence_and_the_words(model, rules, directory):
    d = decided(ELDERLY, rules, directory, learned=learn.Learned(model, 0.5))
    assert (d.routing, d.unit_code) == ("learned", "dept-mz")
    assert d.routing_reason.startswith("学习模型 → 民政局（置信度 0.")
    assert "依据「高龄" in d.routing_reason
    note = next(r for r in d.reasons if r.rule == "route/learned")
    assert note.detail == d.routing_reason and note.span is not None and note.span.text in d.routing_reason
    assert decided(ELDERLY, rules, directory).routing != "learned"  # no model, no learned routing


def test_below_the_threshold_the_next_signal_routes_and_the_note_says_why(model, rules, directory):
    text = "小区门口的烧烤摊油烟太大了，晚上根本没法开窗"
    sure = model.predict(router_text(text, rules, directory, "weibo"))
    d = decided(text, rules, directory, learned=learn.Learned(model, min(1.0, sure.confidence + 0.01)))
    assert d.routing == "topic"
    note = next(r for r in d.reasons if r.rule == "route/learned")
    assert "低于阈值" in note.detail and "不采用" in note.detail


def test_the_learned_unit_is_taken_only_where_the_account_may_route_to_it(model, rules, directory):
    learned = learn.Learned(model, 0.5)
    on_department = decided(ELDERLY, rules, directory, URBAN, learned)
    assert (on_department.routing, on_department.unit_code) == ("account", "dept-cg")
    note = next(r for r in on_department.reasons if r.rule == "route/learned")
    assert "学习模型预测民政局" in note.detail and "部门账号下，按属地管理不改派" in note.detail
    # a community's account routes nowhere else: the model is not even asked
    on_community = decided(ELDERLY, rules, directory, COMMUNITY, learned)
    assert (on_community.routing, on_community.unit_code) == ("account", "comm-ciqikou-01")
    assert not any(r.rule == "route/learned" for r in on_community.reasons)
    # a department's account keeps its own business: the model predicting that unit is taken
    own = decided("楼下烧烤摊油烟太大了，天天晚上开到凌晨，窗户都不敢开", rules, directory, URBAN, learned)
    assert own.unit_code == "dept-cg"


def test_place_comes_before_the_model_and_the_config_can_reorder(model, rules, directory):
    learned = learn.Learned(model, 0.5)
    text = "我住在磁器口，" + ELDERLY
    assert decided(text, rules, directory, learned=learned).routing == "place"
    after_topic = with_priority(rules, RoutingSettings(priority=("topic", "learned")))
    assert after_topic.routing_priority == ("topic", "learned", "account")
    d = decided("小区门口的烧烤摊油烟太大了，晚上根本没法开窗", after_topic, directory, learned=learned)
    assert d.routing == "topic"


def test_rules_written_before_the_model_get_it_before_topics(tmp_path):
    from huisheng.flags.rules import DEFAULT_RULES

    old = DEFAULT_RULES.read_text(encoding="utf-8").replace("priority: [mention, place, learned, topic, account]",
                                                            "priority: [mention, place, topic, account]")
    path = tmp_path / "rules.yaml"
    path.write_text(old, encoding="utf-8")
    assert load_rules(path).routing_priority == ("mention", "place", "learned", "topic", "account")


def test_the_file_is_data_and_records_what_and_when(model, tmp_path, rules, directory):
    path = tmp_path / "routing.model"
    learn.save(model, path)
    with zipfile.ZipFile(path) as z:  # numpy arrays, no pickle anywhere
        assert sorted(z.namelist()) == ["header.npy", "idf.npy", "intercept.npy", "temperature.npy", "terms.npy",
                                        "weights.npy"]
    loaded = learn.load(path)
    meta = learn.read_header(path)
    assert meta["trained_at"] == NOW.isoformat() and meta["version"] == learn.FORMAT_VERSION
    assert meta["examples"]["dept-jt"] == 18 and sum(meta["examples"].values()) == 234
    assert meta["sources"] == {"routing-messages.csv": 234}
    assert set(meta["libraries"]) >= {"python", "numpy", "scikit-learn", "huisheng"}
    assert 0 < meta["cv_accuracy"] <= 1
    text = router_text(ELDERLY, rules, directory, "weibo")
    assert loaded.predict(text) == model.predict(text)
    assert list(tmp_path.iterdir()) == [path]  # the temporary file is gone


def _rewrite_header(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    header = {**json.loads(bytes(arrays["header"]).decode()), **changes}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_a_file_of_another_version_or_no_model_is_a_clear_error(model, tmp_path):
    path = tmp_path / "old.model"
    learn.save(model, path)
    _rewrite_header(path, version=learn.FORMAT_VERSION + 1, libraries={"huisheng": "9.0"})
    with pytest.raises(learn.RoutingModelError) as error:
        learn.load(path)
    assert str(error.value) == (f"{path}: 路由模型格式版本为 {learn.FORMAT_VERSION + 1}（由 huisheng 9.0 训练），"
                                f"本版本只能读取版本 {learn.FORMAT_VERSION}：请用 huisheng routing train 重新训练")
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"\x80\x04not a model")
    with pytest.raises(learn.RoutingModelError, match="不是回声的路由模型文件"):
        learn.load(junk)
    with pytest.raises(learn.RoutingModelError, match="路由模型文件不存在"):
        learn.load(tmp_path / "missing.model")


def test_two_units_and_too_few(rules, directory):
    two = [learn.Example("公交车太少了等车半小时", "dept-jt"), learn.Example("地铁站换乘太远", "dept-jt"),
           learn.Example("学校门口补课班太多", "dept-jw"), learn.Example("幼儿园收费太贵", "dept-jw")]
    model = learn.train(two, now=NOW)
    assert model.predict("公交车太少").unit == "dept-jt" and model.predict("幼儿园学费").unit == "dept-jw"
    with pytest.raises(learn.HuishengError, match="至少需要两个单位"):
        learn.train(two[:2], now=NOW)


def test_cross_validation_and_the_fitted_temperature(examples, model):
    result = learn.cross_validate(examples, 4)
    assert result["rows"] == 234 and result["folds"] == 4 and result["accuracy"] > 0.55
    assert sum(u["support"] for u in result["units"].values()) == 234
    # the confidence's temperature comes from held-out scores, not the default
    assert model.temperature != 1.0 and model.meta["temperature"] == round(model.temperature, 6)


def test_metrics_count_precision_recall_and_confusions():
    m = learn.metrics(["a", "a", "b", "b"], ["a", "b", "b", None], [0.9, 0.4, 0.8, None], 0.5)
    assert m["accuracy"] == 0.5 and m["correct"] == 2
    assert m["units"]["a"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert m["units"]["b"] == {"precision": 0.5, "recall": 0.5, "support": 2}
    assert m["confusion"] == [{"unit": "a", "predicted": "b", "count": 1}, {"unit": "b", "predicted": None,
                                                                            "count": 1}]
    assert m["threshold"] == {"threshold": 0.5, "share": 0.5, "accuracy": 1.0}
