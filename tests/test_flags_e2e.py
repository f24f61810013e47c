"""End to end against the simulator: the daemon polls, decides and detects
replies; flags, routing and replies are checked against the simulator's ground
truth (every generated comment carries its true labels)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from harness import scenario
from huisheng.storage.models import Account, Comment, Flag, Unit
from huisheng.config.settings import AccountSpec
from huisheng.simulator import WorldConfig


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def test_flags_routing_and_replies_match_the_ground_truth(db_url, tmp_path):
    # the district leaders' message boards beside the Weibo accounts: their threads are citizens' posts to them
    boards = (AccountSpec("liuyan", "9301", "示范区委书记留言板", "D"), AccountSpec("liuyan", "9302", "示范区区长留言板", "D"))
    sc = scenario(db_url, tmp_path, accounts=14, config=WorldConfig(history_days=2), interval=1200,
                  extra_accounts=boards)
    try:
        sc.run_for(days=2)
        sc.settle()
        truth = sc.server.truth()
        with sc.runtime.sessions() as session:
            flags = {c_ext: f for f, c_ext in session.execute(
                select(Flag, Comment.external_id).join(Comment, Comment.id == Flag.comment_id)).all()}
            units = {u.id: u.code for u in session.scalars(select(Unit))}
            stored = {c.external_id: c for c in session.scalars(select(Comment))}
            accounts = {a.id: a.uid for a in session.scalars(select(Account))}
    finally:
        sc.close()

    citizen_posts = {p["id"] for p in truth["posts"] if p["citizen"]}
    residents = {c["id"]: c for c in truth["comments"]
                 if c["labels"].get("role") == "resident" and c["id"] in stored
                 and not c["deleted"] and not c["post_deleted"] and c["post_id"] not in citizen_posts}
    # A repeat by the same citizen in a still-open thread is part of the same case.
    should = {cid for cid, c in residents.items() if c["labels"]["needs_reply"]}
    raised = {cid for cid in flags if cid in residents}
    true_pos = should & raised
    precision = len(true_pos) / len(raised)
    recall = len(true_pos) / len(should)
    assert len(should) > 60, "the scenario is big enough to measure"
    assert precision >= 0.9, precision
    assert recall >= 0.85, recall

    # Routing.  The simulator labels each comment with the unit the district's
    # policy makes answerable (mention > place > topic > account): a street it
    # names, or a department's everyday business (新生儿落户 → 公安) written on
    # the district's account.
    specific = [cid for cid in true_pos if residents[cid]["labels"]["routing"] != "account"]
    assert len(specific) > 10
    wrong = Counter((residents[cid]["labels"]["routing"], flags[cid].routing) for cid in true_pos
                    if units[flags[cid].unit_id] != residents[cid]["labels"]["target_unit"])
    assert sum(wrong[k] for k in wrong if k[0] != "account") / len(specific) <= 0.1, wrong
    assert sum(wrong[k] for k in wrong if k[0] == "account") / (len(true_pos) - len(specific)) <= 0.05, wrong

    # Replies: the first owner reply (not an acknowledgement) answering a
    # flagged comment sets first_reply_at to its time.
    answers: dict[str, datetime] = {}
    acks: set[str] = set()
    for c in truth["comments"]:
        role, answered = c["labels"].get("role"), c["labels"].get("answers")
        if c["deleted"] or c["id"] not in stored or answered is None:
            continue
        if role == "reply":
            at = _parse(c["created_at"])
            answers[answered] = min(at, answers.get(answered, at))
        elif role == "ack":
            acks.add(answered)
    checked = [cid for cid in true_pos if cid in answers]
    assert len(checked) > 30
    exact = [cid for cid in checked if flags[cid].first_reply_at == answers[cid]]
    assert len(exact) / len(checked) >= 0.95, [
        (cid, flags[cid].status, flags[cid].first_reply_at, answers[cid]) for cid in checked if cid not in exact][:5]
    unanswered = [cid for cid in true_pos if cid not in answers]
    assert all(flags[cid].status in ("open", "acknowledged") for cid in unanswered)
    acked_only = [cid for cid in unanswered if cid in acks]
    assert all(flags[cid].status == "acknowledged" for cid in acked_only)

    # Follow-ups after a reply open a new flag linked to the earlier one.
    follow_ups = [cid for cid in true_pos if residents[cid]["labels"].get("follow_up_of")]
    for cid in follow_ups:
        earlier = flags.get(residents[cid]["labels"]["follow_up_of"])
        if earlier is not None:
            assert flags[cid].follow_up_of == earlier.id


    # Mentions: a citizen's own post that @s accounts is found by the search for
    # @NAME, stored as its thread's root item, flagged once (however many
    # accounts it names) for the first named account's unit, and answered by
    # that account's comment in its thread or its repost with words.
    mentions = {p["id"]: p for p in truth["posts"] if p["citizen"] and not p["deleted"]}
    assert len(mentions) > 10 and any(len(p["mentions"]) > 1 for p in mentions.values())
    assert sum(p.get("platform") == "liuyan" for p in mentions.values()) > 3, "the boards' threads are among them"
    assert set(mentions) <= {cid for cid, c in stored.items() if c.item == "post"}, "mentions missed"
    should = {pid for pid, p in mentions.items() if p["labels"]["needs_reply"]}
    raised = {pid for pid in flags if pid in mentions}
    assert len(should & raised) / len(should) >= 0.85 and len(should & raised) / len(raised) >= 0.9
    for pid in should & raised:
        flag, p = flags[pid], mentions[pid]
        assert accounts[flag.account_id] == p["mentions"][0]
        assert units[flag.unit_id] == p["labels"]["target_unit"], (pid, flag.routing_reason)
    answers = {}
    for item in truth["comments"] + truth["posts"]:
        if item.get("labels", {}).get("role") == "reply" and item["labels"]["answers"] in mentions \
                and not item["deleted"]:
            answers[item["labels"]["answers"]] = (_parse(item["created_at"]), item["labels"]["form"])
    answered = [pid for pid in should & raised if pid in answers]
    assert {form for _, form in answers.values()} == {"comment", "repost"}
    assert len(answered) > 5
    exact = [pid for pid in answered if flags[pid].first_reply_at == answers[pid][0]]
    assert len(exact) / len(answered) >= 0.95, [(pid, answers[pid], flags[pid].status) for pid in answered
                                                if pid not in exact][:5]
    assert all(flags[pid].status in ("open", "acknowledged") for pid in should & raised if pid not in answers)
