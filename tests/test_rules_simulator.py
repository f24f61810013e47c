"""The default rules on the simulator's comments, which they were not written
from (the development set was): needs reply, urgency and routing against the
world's ground-truth labels, and no comment of a matrix account flagged."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from huisheng.adapters import text_conventions
from huisheng.flags.classify import Subject, build_directory, decide
from huisheng.flags.rules import load_rules
from huisheng.config.matrix import load_matrix
from huisheng.simulator import World, WorldConfig

WEIBO_TEXT = text_conventions("weibo")

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 10, 20, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def judged():
    matrix = load_matrix(ROOT / "config" / "example-district")
    world = World(matrix, seed=31, start=START, config=WorldConfig(history_days=3))
    rules, directory = load_rules(), build_directory(matrix)
    out = []
    for c in world.truth(START)["comments"]:
        subject = Subject(text=c["text"], author_id=str(c["author_id"]), author_name=c["author_name"],
                          platform="weibo", conventions=WEIBO_TEXT, account_uid=str(c["account_uid"]))
        out.append((c["labels"], decide(subject, rules, directory)))
    return out


def test_owner_comments_are_never_flagged(judged):
    owner = [d for labels, d in judged if labels.get("role") != "resident"]
    assert owner and not any(d.needs_reply for d in owner)


def test_needs_reply_and_urgency_match_the_truth(judged):
    resident = [(labels, d) for labels, d in judged if labels.get("role") == "resident"]
    assert len(resident) > 500
    tp = sum(1 for labels, d in resident if labels["needs_reply"] and d.needs_reply)
    fp = sum(1 for labels, d in resident if not labels["needs_reply"] and d.needs_reply)
    fn = sum(1 for labels, d in resident if labels["needs_reply"] and not d.needs_reply)
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95, (tp, fp, fn)
    urgent = [(labels["urgent"], d.urgent) for labels, d in resident]
    assert sum(t for t, _ in urgent) > 0 and all(t == p for t, p in urgent)


def test_routing_matches_the_truth_where_the_comment_alone_decides(judged):
    # follow-ups inherit their target from the earlier thread, which decide does not see
    routed = [(labels, d) for labels, d in judged if labels.get("role") == "resident" and labels["needs_reply"]
              and d.needs_reply and not labels.get("follow_up_of")]
    explicit = [(labels, d) for labels, d in routed if labels["routing"] in ("mention", "place", "topic")]
    assert explicit
    assert sum(d.unit_code == labels["target_unit"] for labels, d in explicit) / len(explicit) >= 0.9
    assert sum(d.unit_code == labels["target_unit"] for labels, d in routed) / len(routed) >= 0.85
