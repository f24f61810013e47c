"""A flag's conversation, on the workbench and in ``huisheng flags show``: a
comment's flag shows its own thread only; a flag raised on a citizen's post
that mentions an account (the post as its thread's root item) shows the post's
whole thread, with the account's answer marked as ours."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from huisheng.cli import main
from huisheng.storage.models import Comment, Flag, Post
from tests.webkit import COMMUNITY, WebKit, days, write_config


@pytest.fixture
def kit(db_url, tmp_path):
    kit = WebKit(db_url, tmp_path)
    now = kit.clock.now()
    with kit.sessions.begin() as session:
        # a citizen's own post that @s the community account (uid 1004), stored as a mention
        ext = kit._ext()
        post = Post(platform="weibo", external_id=ext, account_id=kit.account["1004"], url=None,
                    author_id="9002", author_name="李四", created_at=now - days(2), text="@社区 楼道灯坏了",
                    content_hash="m", first_seen_at=now - days(2), last_seen_at=now, raw={}, origin="mention")
        session.add(post)
        session.flush()

        def item(external_id, author_id, name, text, at, root=None, kind="comment"):
            row = Comment(platform="weibo", external_id=external_id, post_id=post.id, root_external_id=root,
                          author_id=author_id, author_name=name, created_at=at, text=text, content_hash="c",
                          first_seen_at=at, last_seen_at=at, raw={}, decided_at=at, item=kind)
            session.add(row)
            return row

        root = item(ext, "9002", "李四", "@社区 楼道灯坏了", now - days(2), kind="post")
        item(kit._ext(), "9003", "王五", "我家楼也是", now - days(1.9))
        answer = kit._ext()
        item(answer, "1004", "社区", "已报修，明天上门", now - days(1.5))
        item(kit._ext(), "9002", "李四", "谢谢社区", now - days(1.4), root=answer)
        session.flush()
        flag = Flag(comment_id=root.id, post_id=post.id, account_id=kit.account["1004"],
                    unit_id=kit.unit["S00C01"], routing="account", routing_reason="提及账号 1004",
                    category="complaint", urgent=False, reasons=[], author_id="9002", author_name="李四",
                    status="replied", started_at=now - days(2), created_at=now - days(2), due_at=now + days(1),
                    updated_at=now - days(1.5), first_reply_at=now - days(1.5))
        session.add(flag)
        session.flush()
        kit.flag["mention"] = flag.id
        # another thread under the community flag's post: not part of that flag's conversation
        session.add(Comment(platform="weibo", external_id=kit._ext(), post_id=kit.posts["1004"],
                            author_id="9004", author_name="赵六", created_at=now - days(1), text="另一个话题",
                            content_hash="c", first_seen_at=now, last_seen_at=now, raw={}, decided_at=now))
    yield kit
    kit.close()


def _thread(html: str) -> list[str]:
    section = html.split('<ol class="thread">', 1)[1].split("</ol>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", li)).strip()
            for li in re.findall(r"<li[^>]*>(.*?)</li>", section, re.S)]


def test_a_mention_flag_shows_the_posts_whole_thread_with_the_accounts_answer(kit):
    client = kit.client_for(COMMUNITY)
    html = client.get(f"/flags/{kit.flag['mention']}").get_data(as_text=True)
    thread = _thread(html)
    assert [line.split(" : ", 1)[1] for line in thread] == [
        "@社区 楼道灯坏了", "我家楼也是", "已报修，明天上门", "谢谢社区"]
    assert ["本单位回复" in line for line in thread] == [False, False, True, False]
    assert re.search(r'<li class="\s*this">[^<]*<span class="muted">', html)  # the flagged post itself


def test_a_comment_flag_shows_only_its_own_thread(kit):
    thread = _thread(kit.client_for(COMMUNITY).get(f"/flags/{kit.flag['community']}").get_data(as_text=True))
    assert len(thread) == 1 and "小区门口的路灯" in thread[0]


def test_flags_show_prints_the_same_threads(kit, db_url, tmp_path):
    config = write_config(tmp_path, db_url)
    mention = CliRunner().invoke(main, ["flags", "show", str(kit.flag["mention"]), "--config", str(config)])
    assert mention.exit_code == 0, mention.output
    talk = mention.output.split("对话:\n", 1)[1].split("记录:", 1)[0].splitlines()
    assert [line.split(": ", 1)[1] for line in talk] == ["@社区 楼道灯坏了", "我家楼也是", "已报修，明天上门", "谢谢社区"]
    assert [line[1:3] for line in talk] == ["→ ", "  ", " ★", "  "]
    comment = CliRunner().invoke(main, ["flags", "show", str(kit.flag["community"]), "--config", str(config)])
    assert comment.exit_code == 0, comment.output
    talk = comment.output.split("对话:\n", 1)[1].split("记录:", 1)[0].splitlines()
    assert len(talk) == 1 and "小区门口的路灯" in talk[0] and "另一个话题" not in comment.output
