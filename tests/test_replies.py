"""Reply detection on the thread shapes Weibo really produces."""

import re
from datetime import datetime, timedelta, timezone

from huisheng.flags.replies import AccountComment, OpenFlag, match_reply

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)
ACKS = (re.compile(r"已收到.{0,6}(正在|尽快)处理"), re.compile(r"已转交"))
ACCOUNT, UNIT, OTHER_ACCOUNT, OTHER_UNIT = 1, 10, 2, 20


def flag(id, root, author, *, minutes=0, post=100, account=ACCOUNT, unit=UNIT):
    return OpenFlag(id=id, post_id=post, thread_root=root, author_id=f"id-{author}", author_name=author,
                    started_at=T0 + timedelta(minutes=minutes), account_id=account, unit_id=unit)


def reply(text, *, root=None, reply_to=None, mentions=(), minutes=60, post=100, account=ACCOUNT,
          unit=UNIT, answers=None):
    return AccountComment(post_id=post, external_id="r1", root_external_id=root,
                          created_at=T0 + timedelta(minutes=minutes), text=text, mentions=tuple(mentions),
                          reply_to_name=reply_to, account_id=account, unit_id=unit, answers_author_id=answers)


FLAGS = [flag(1, "c1", "张三"), flag(2, "c2", "李四"), flag(3, "c1", "王五", minutes=10)]


def test_child_reply_answers_the_flags_of_its_thread():
    match = match_reply(reply("您好，已安排工作人员现场查看", root="c1"), FLAGS, ACKS)
    assert match.flag_ids == (1, 3) and not match.acknowledgement


def test_reply_to_a_named_citizen_in_the_thread_answers_only_theirs():
    match = match_reply(reply("回复@王五:路灯已修复", root="c1", reply_to="王五", answers="id-王五"), FLAGS, ACKS)
    assert match.flag_ids == (3,)


def test_a_reply_to_one_citizen_is_matched_by_the_author_id_of_the_comment_it_answers():
    # two citizens in the thread call themselves 王五: the reply answers the one
    # whose comment it is linked to, not every flag of that name
    namesakes = [flag(1, "c1", "王五"), OpenFlag(id=4, post_id=100, thread_root="c1", author_id="id-other",
                                                 author_name="王五", started_at=T0, account_id=ACCOUNT,
                                                 unit_id=UNIT)]
    match = match_reply(reply("回复@王五:已修复", root="c1", reply_to="王五", answers="id-other"), namesakes, ACKS)
    assert match.flag_ids == (4,)


def test_reply_naming_a_bystander_still_answers_the_thread():
    # 回复@ a chatting neighbour under the flagged comment: the flag's thread is answered.
    match = match_reply(reply("回复@路人甲:已处理", root="c2", reply_to="路人甲"), FLAGS, ACKS)
    assert match.flag_ids == (2,)


def test_top_level_reply_mentioning_the_author():
    match = match_reply(reply("@李四 您反映的问题已转办", mentions=["李四"]), FLAGS, ACKS)
    assert match.flag_ids == (2,)


def test_top_level_comment_without_mention_answers_nothing():
    assert match_reply(reply("今日天气晴"), FLAGS, ACKS).flag_ids == ()


def test_acknowledgement_is_marked():
    match = match_reply(reply("已收到，正在处理", root="c2"), FLAGS, ACKS)
    assert match.flag_ids == (2,) and match.acknowledgement


def test_only_flags_started_before_the_reply():
    match = match_reply(reply("好的", root="c1", minutes=5), FLAGS, ACKS)
    assert match.flag_ids == (1,)


def test_another_post_or_an_unrelated_account_does_not_answer():
    assert match_reply(reply("已处理", root="c1", post=101), FLAGS, ACKS).flag_ids == ()
    assert match_reply(reply("已处理", root="c1", account=OTHER_ACCOUNT, unit=OTHER_UNIT), FLAGS,
                       ACKS).flag_ids == ()


def test_an_account_of_the_owning_unit_answers_a_routed_flag():
    routed = [flag(7, "c9", "赵六", account=ACCOUNT, unit=OTHER_UNIT)]
    match = match_reply(reply("我局已派人处理", root="c9", account=OTHER_ACCOUNT, unit=OTHER_UNIT), routed, ACKS)
    assert match.flag_ids == (7,)
