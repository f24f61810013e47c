"""Digests and alerts an administrator can act on: each flag's number, the
comment's own time, a link to the comment itself and what to do next; a cut
list says how much it holds (digests and ``flags list``); source errors in
words; subjects that arrive with their spaces through a real SMTP server."""

from __future__ import annotations

import email
import json
from datetime import datetime, timedelta, timezone
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select

from digestkit import COMMUNITY, DISTRICT, NOW, TRANSPORT, TRANSPORT_ACCOUNT, days, hours, scenario
from flagkit import Kit
from huisheng.cli import main
from huisheng.flags.process import Decider
from huisheng.flags.rules import load_rules
from huisheng.flags.workcal import WorkCalendar
from huisheng.clock import FakeClock
from huisheng.config import load_settings
from huisheng.config.matrix import dump_matrix
from huisheng.storage.models import Comment, Flag, OutboxMessage, Post, Unit
from huisheng.notify.alerts import AlertJob
from huisheng.notify.digest import DigestJob, comment_link, gather, next_step, post_link, render_digest
from huisheng.notify.mail import MailSettings, mail_from_settings
from huisheng.notify.outbox import Sender, build_message
from huisheng.notify.sink import free_port
from tests.mailkit import Inbox
from test_digest import well_formed

WORKBENCH = "https://hs.example.gov.cn"


def config(tmp_path: Path, db_url: str, *, port: int = 2525, web: bool = False, **digest) -> Path:
    lines = [f'[database]\nurl = "{db_url}"',
             f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nfrom_address = "huisheng@example.org"',
             "[digest]", *(f"{k} = {v}" for k, v in digest.items())]
    if web:
        lines.append(f'[web]\npublic_url = "{WORKBENCH}/"')
    path = tmp_path / "huisheng.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def kit(db_url):
    kit = scenario(db_url)
    yield kit
    kit.close()


def digests(kit, recipients=None, max_items=50):
    with kit.sessions() as session:
        found = gather(session, now=NOW, calendar=WorkCalendar(), recipients=recipients, max_items=max_items)
    return {d.recipient: d for d in found}


def ids_of(kit, name: str) -> tuple[str, str]:
    """(post external id, comment external id) of a flag of the kit."""
    with kit.sessions() as session:
        flag = session.get(Flag, kit.flag[name])
        return session.get(Post, flag.post_id).external_id, session.get(Comment, flag.comment_id).external_id


def item(text: str, flag_id: int) -> str:
    """The lines of one flag in a digest's text part."""
    start = text.index(f"- #{flag_id} ")
    end = text.find("\n- ", start + 1)
    block = text[start:] if end == -1 else text[start:end]
    return block.split("\n\n")[0]


@pytest.mark.parametrize(("status", "category", "promised", "step"), [
    ("open", "consultation", False, "reply"),
    ("acknowledged", "praise", False, "reply"),
    ("open", "complaint", False, "reply_or_promise"),
    ("acknowledged", "help", True, "reply_promised"),
    ("replied", "suggestion", False, "promise"),
    ("replied", "complaint", True, "resolve"),
    ("replied", "consultation", False, "resolve"),
    ("resolved", "help", True, "close"),
    ("closed", "complaint", False, None),
    ("dismissed", "consultation", False, None),
])
def test_the_next_step_follows_state_and_category(status, category, promised, step):
    assert next_step(status, category, NOW if promised else None) == step


def test_each_flag_has_its_number_time_comment_link_and_what_to_do(kit):
    rendered = render_digest(digests(kit)[TRANSPORT_ACCOUNT], locale="zh")
    text, html = rendered.text, rendered.html
    post, comment = ids_of(kit, "f1")
    f1 = item(text, kit.flag["f1"])
    assert f1.startswith(f"- #{kit.flag['f1']} [紧急] [求助] 紧急！幸福路井盖丢失")
    assert "留言时间：2026-11-05 06:30" in f1  # written two hours before the digest
    assert f"留言：https://m.weibo.cn/detail/{post}?cid={comment}" in f1
    assert "原帖：https://weibo.com/1002/P1002" in f1
    assert (f"处理：用本单位账号在原帖下回复；一时办不完的，在回复中承诺办结日期并登记"
            f"（huisheng flags promise {kit.flag['f1']} --date 年-月-日 --by 姓名）") in f1
    f3 = item(text, kit.flag["f3"])  # a question: an answer is all it needs
    assert "处理：用本单位账号在原帖下回复这条留言\n" in f3 + "\n" and "huisheng flags" not in f3
    f7 = item(text, kit.flag["f7"])  # replied: record it done, then close it
    assert (f"处理：已回复；事项办结后登记办结并销号（huisheng flags resolve {kit.flag['f7']} --by 姓名；"
            f"huisheng flags close {kit.flag['f7']} --by 姓名）") in f7

    well_formed(html)
    assert f"<strong>#{kit.flag['f1']}</strong>" in html
    assert f'<a href="https://m.weibo.cn/detail/{post}?cid={comment}">留言</a>' in html
    assert "留言时间：2026-11-05 06:30" in html
    assert f"<code>huisheng flags promise {kit.flag['f1']} --date 年-月-日 --by 姓名</code>" in html

    en = render_digest(digests(kit)[TRANSPORT_ACCOUNT], locale="en").text
    assert "Written: 2026-11-05 06:30" in item(en, kit.flag["f1"])
    assert "To do: reply under the post from your unit's account\n" in item(en, kit.flag["f3"]) + "\n"
    assert f"huisheng flags close {kit.flag['f7']} --by NAME" in item(en, kit.flag["f7"])


def test_a_promise_a_reply_under_a_comment_and_a_flag_done(kit):
    promised = kit.make_flag("p1", "1002", "B03", text="小区门口路灯坏了", created=NOW - hours(1),
                             due=NOW + days(7), category="complaint", promised_at=NOW + days(10))
    nested = kit.make_flag("r1", "1002", "B03", text="请问几点开门", created=NOW - hours(1), due=NOW + days(2))
    done = kit.make_flag("d1", "1002", "B03", text="井盖修好了吗", created=NOW - days(2), due=NOW + days(3),
                         category="help", status="replied", first_reply_at=NOW - hours(3), reply_seconds=1.0,
                         reply_working_seconds=1.0)
    with kit.sessions.begin() as session:
        # a second-level reply: its page is the floor of the comment it is under
        session.get(Comment, session.get(Flag, nested).comment_id).root_external_id = "4999"
        flag = session.get(Flag, done)
        flag.status, flag.resolved_at = "resolved", NOW - hours(2)
    text = render_digest(digests(kit)[TRANSPORT_ACCOUNT], locale="zh").text
    assert "处理：用本单位账号在原帖下回复（已承诺 2026-11-15 前办结）" in item(text, promised)
    post, _ = ids_of(kit, "r1")
    assert f"留言：https://m.weibo.cn/detail/{post}?cid=4999\n" in item(text, nested) + "\n"
    assert f"处理：已办结；请销号（办结销号）（huisheng flags close {done} --by 姓名）" in item(text, done)
    en = render_digest(digests(kit)[TRANSPORT_ACCOUNT], locale="en").text
    assert "(promised done by 2026-11-15)" in item(en, promised)


def test_with_a_workbench_each_flag_links_to_its_page(kit, db_url, tmp_path):
    job = DigestJob(kit.sessions, FakeClock(NOW), load_settings(config(tmp_path, db_url, web=True)))
    rendered = job.preview(TRANSPORT_ACCOUNT, NOW)
    flag = kit.flag["f1"]
    assert f'<a href="{WORKBENCH}/flags/{flag}">在工作台处理</a>' in rendered.html
    assert f"在工作台处理：{WORKBENCH}/flags/{flag}" in item(rendered.text, flag)
    # the page takes the place of the command lines
    assert "huisheng flags promise" not in rendered.text and "huisheng flags promise" not in rendered.html
    well_formed(rendered.html)


def test_a_cut_list_says_how_many_it_holds(kit):
    for n in range(5):
        kit.make_flag(f"q{n}", "1002", "B03", text=f"请问第{n}个问题", created=NOW - hours(1.5), due=NOW + days(2))
    whole = render_digest(digests(kit)[TRANSPORT_ACCOUNT], locale="zh")
    assert "以下列出" not in whole.text and "以下列出" not in whole.html

    d = digests(kit, max_items=2)[TRANSPORT_ACCOUNT]
    zh, en = render_digest(d, locale="zh"), render_digest(d, locale="en")
    # six questions, two listed; the two overdue flags, two listed: nothing to say there
    head = "-- 咨询（6） --\n  共 6 条，以下列出 2 条；全部可运行 huisheng flags list 查看。\n- #"
    assert head in zh.text
    assert zh.text.count("以下列出") == 1
    assert "-- Consultation (6) --\n  6 in all, 2 listed; run huisheng flags list to see them all.\n- #" in en.text
    assert "共 6 条，以下列出 2 条；全部可运行 huisheng flags list 查看。</p><ul" in zh.html
    well_formed(zh.html)
    well_formed(en.html)

    district = render_digest(digests(kit, [DISTRICT], max_items=1)[DISTRICT], locale="zh").text
    assert "-- 交通局（2） --\n  共 2 条，以下列出 1 条" in district


def test_a_cut_list_of_unreadable_threads_says_so_too(kit):
    with kit.sessions.begin() as session:
        for n in range(12):
            session.add(Post(platform="weibo", external_id=f"51{n:02d}", account_id=kit.account["1002"],
                             url=f"https://weibo.com/1002/T{n}", author_id="1002", author_name="1002",
                             created_at=NOW - days(3), text="通知", content_hash="h", first_seen_at=NOW - days(3),
                             last_seen_at=NOW, raw={}, comments_incomplete_reason="empty 0/513",
                             comments_incomplete_since=NOW - days(2) + hours(n), comments_retry_attempts=3))
    d = digests(kit, [TRANSPORT])[TRANSPORT]
    zh, en = render_digest(d, locale="zh"), render_digest(d, locale="en")
    assert "（12）\n  共 12 个，以下列出 10 个；全部可运行 huisheng status 查看。\n- " in zh.text
    assert " (12)\n  12 in all, 10 listed; run huisheng status to see them all.\n- " in en.text
    assert "共 12 个，以下列出 10 个；全部可运行 huisheng status 查看。</p><ul" in zh.html
    well_formed(zh.html)


def test_source_errors_in_words(kit):
    for uid, kind, message in (("1001", "blocked", "timeline: HTTP 432"),
                               ("1002", "auth_required", "timeline: captcha (ok -100)"),
                               ("1003", "rate_limited", "comments: HTTP 418"),
                               ("1004", "parse_error", "timeline: unexpected shape at field 'data.cards'")):
        kit.failing(uid, NOW - hours(3), 2, kind, message)
    d = digests(kit, [DISTRICT])[DISTRICT]
    zh, en = render_digest(d, locale="zh"), render_digest(d, locale="en")
    for part in (zh.text, zh.html):
        assert "示范区发布（示范区）：被平台风控拦截（timeline: HTTP 432）" in part
        assert "示范区交通局（交通局）：需要登录或验证码（timeline: captcha (ok -100)）" in part
        assert "东城街道（东城街道）：请求过于频繁，被平台限流（comments: HTTP 418）" in part
        assert "东城第1社区（东城第1社区）：平台返回的数据无法识别" in part
        for kind in ("blocked", "auth_required", "rate_limited", "parse_error"):
            assert kind not in part
    assert "示范区发布 (示范区): blocked by risk control (timeline: HTTP 432)" in en.text
    well_formed(zh.html)



def test_subjects_arrive_with_their_spaces(kit, db_url, tmp_path):
    """A ten-character unit name put the line fold of the encoded Subject at
    the space after it, and mail readers dropped the space."""
    with kit.sessions.begin() as session:
        session.scalars(select(Unit).where(Unit.code == "S00C01")).one().name = "渝碚路街道站东路社区"
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = load_settings(config(tmp_path, db_url, port=port))
        clock = FakeClock(NOW)
        DigestJob(kit.sessions, clock, settings).send(NOW)
        Sender(kit.sessions, clock, mail_from_settings(settings)).run(NOW)
    finally:
        controller.stop()
    received = {m["To"]: m["Subject"]
                for m in (email.message_from_bytes(data, policy=default_policy) for data in inbox.received)}
    assert received[COMMUNITY] == "【回声】渝碚路街道站东路社区 新增待回复 0 条，超期 1 条"
    assert received[TRANSPORT] == "【回声】交通局 新增待回复 2 条，超期 2 条"
    with kit.sessions() as session:
        stored = {m.recipient: m.subject for m in session.scalars(select(OutboxMessage))}
    assert all(received[to] == stored[to] for to in received)


@pytest.mark.parametrize("template", [
    "【回声】{unit} 新增待回复 5 条，超期 2 条，下级超期 12 条",
    "【回声】{unit} 等 3 个单位和账号 新增待回复 15 条，超期 12 条",
    "[Huisheng] {unit}: 2 new to answer, 2 overdue, 3 overdue below",
    "【回声·紧急】{unit}：家里 着火了 快来人",
], ids=["zh", "zh-several", "en", "alert"])
def test_every_subject_length_keeps_its_spaces(template):
    for length in range(1, 60):
        for unit in ("沙坪坝区城市管理局" * 7)[:length], ("A" * length), ("东城第1社区" * 10)[:length]:
            subject = template.format(unit=unit)
            message = build_message(recipient="a@example.org", subject=subject, text="x", html=None, now=NOW,
                                     mail=MailSettings())
            raw = message.as_bytes()
            assert max(len(line) for line in raw.split(b"\r\n")) <= 78
            assert email.message_from_bytes(raw, policy=default_policy)["Subject"] == subject
            assert str(message["Subject"]) == subject


def test_an_alert_has_the_number_the_comment_and_what_to_do(kit, db_url, tmp_path):
    settings = load_settings(config(tmp_path, db_url, web=False))
    flag = kit.make_flag("u1", "1002", "B03", text="紧急！井盖丢失有人掉进去了", created=NOW - hours(0.2),
                         due=NOW + hours(2), urgent=True, category="help")
    AlertJob(kit.sessions, FakeClock(NOW), settings).run(NOW)
    post, comment = ids_of(kit, "u1")
    with kit.sessions() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert",
                                                          OutboxMessage.period == str(flag))).first()
    parsed = email.message_from_string(row.message, policy=default_policy)
    text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = parsed.get_body(("html",)).get_content()
    assert f"编号：#{flag}\n" in text
    assert "留言时间：2026-11-05 08:18" in text
    assert f"查看留言：https://m.weibo.cn/detail/{post}?cid={comment}\n" in text
    assert (f"处理：用本单位账号在原帖下回复；一时办不完的，在回复中承诺办结日期并登记"
            f"（huisheng flags promise {flag} --date 年-月-日 --by 姓名）") in text
    assert f'<a href="https://m.weibo.cn/detail/{post}?cid={comment}">查看留言</a>' in html
    assert f"<td>#{flag}</td>" in html
    well_formed(html)

    # with a workbench, the flag's page there
    kit.make_flag("u2", "1002", "B03", text="着火了", created=NOW, due=NOW + hours(2), urgent=True)
    AlertJob(kit.sessions, FakeClock(NOW), load_settings(config(tmp_path, db_url, web=True))).run(NOW)
    with kit.sessions() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.period == str(kit.flag["u2"]))).first()
    parsed = email.message_from_string(row.message, policy=default_policy)
    assert f'<a href="{WORKBENCH}/flags/{kit.flag["u2"]}">在工作台处理</a>' in \
        parsed.get_body(("html",)).get_content()
    assert f"在工作台处理：{WORKBENCH}/flags/{kit.flag['u2']}" in parsed.get_body(("plain",)).get_content()


# --- flags list ------------------------------------------------------------------------


@pytest.fixture
def listed(db_url, tmp_path):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    kit = Kit(db_url)
    post = kit.post("1000000001", now - timedelta(days=1))
    kit.comment(post, now - timedelta(hours=20), "小区门口占道经营太严重，投诉！")
    kit.comment(post, now - timedelta(hours=19), "请问居住证在哪里办理", author=("9002", "李四"))
    kit.comment(post, now - timedelta(hours=18), "请问社保卡在哪里补办", author=("9003", "王五"))
    Decider(kit.sessions, FakeClock(now), load_rules(), kit.calendar, kit.sla).run()
    assert len(kit.flags()) == 3
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.toml").write_text(dump_matrix(kit.matrix), encoding="utf-8")
    path = tmp_path / "flags.toml"
    path.write_text(f'matrix = "m"\n[database]\nurl = "{db_url}"\n', encoding="utf-8")
    yield path
    kit.close()


def flags_list(path, *args):
    return CliRunner().invoke(main, ["--config", str(path), "flags", "list", *args])


def test_flags_list_says_when_it_is_cut(listed):
    table = flags_list(listed, "--limit", "2")
    assert table.exit_code == 0, table.output
    first, header = table.stdout.splitlines()[:2]
    assert first == "共 3 条，以下列出 2 条（--limit 可调整）" and header.startswith("编号")
    assert "以下列出" not in flags_list(listed).stdout
    assert "以下列出" not in flags_list(listed, "--limit", "3").stdout
    # machine-readable output stays the data alone; the note goes to stderr
    as_json = flags_list(listed, "--limit", "2", "--format", "json")
    assert len(json.loads(as_json.stdout)) == 2
    assert as_json.stderr.strip() == "共 3 条，以下列出 2 条（--limit 可调整）"
    as_csv = flags_list(listed, "--limit", "1", "--format", "csv")
    assert len(as_csv.stdout.strip().splitlines()) == 2
    assert "共 3 条，以下列出 1 条" in as_csv.stderr


def test_a_platform_without_an_adapter_is_listed_without_links():
    assert post_link("nowhere", None, "1", None, "2") is None
    assert post_link("nowhere", "https://example.org/p/2", "1", None, "2") == "https://example.org/p/2"
    assert comment_link("nowhere", "2", "3", None) is None
    assert comment_link("weibo", "2", "3", None) == "https://m.weibo.cn/detail/2?cid=3"
