"""The digest's content against a hand-computed scenario (tests/digestkit.py),
its rendering (subject, locales, hostile text) and the golden text part."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.models import Flag, FlagEvent
from huisheng.notify.digest import gather, render_digest, subject
from huisheng.notify.render import clean, excerpt
from digestkit import (COMMUNITY, DISTRICT, NOW, STREET, TRANSPORT, TRANSPORT_ACCOUNT, days, hours,
                             scenario)

GOLDEN = Path(__file__).parent / "data" / "digest"


@pytest.fixture
def kit(db_url):
    kit = scenario(db_url)
    yield kit
    kit.close()


def digests(kit, recipients=None, now=NOW):
    with kit.sessions() as session:
        found = gather(session, now=now, calendar=WorkCalendar(), recipients=recipients)
    return {d.recipient: d for d in found}


def ids(kit, items):
    names = {v: k for k, v in kit.flag.items()}
    return [names[f.id] for f in items]


def group_ids(kit, groups):
    return [(g.key, ids(kit, g.section.items)) for g in groups]


def test_one_digest_per_administrator(kit):
    assert sorted(digests(kit)) == sorted([DISTRICT, TRANSPORT, STREET, COMMUNITY, TRANSPORT_ACCOUNT])


def test_unit_admin_since_their_last_digest(kit):
    d = digests(kit)[TRANSPORT]
    assert d.names == ("交通局",)
    assert d.since == NOW - hours(2.5) and d.until == NOW
    # f2 (3 h ago) was in the last digest; urgent first, then by category
    assert group_ids(kit, d.new) == [("urgent", ["f1"]), ("consultation", ["f3"])]
    assert d.new_total == 2
    # due within 1 working day: today (Thursday) 18:00 Shanghai at the latest
    assert ids(kit, d.due_soon.items) == ["f4"]
    assert ids(kit, d.overdue.items) == ["f6", "f5"]
    assert [f.step for f in d.overdue.items] == ["noticed", "escalated"]
    assert ids(kit, d.replied.items) == []  # f7's reply (5 h ago) came before the last digest
    assert d.escalation == () and d.escalation_total == 0
    assert d.failing == () and d.silent14 == () and d.silent10 == ()
    assert not d.empty


def test_account_admin_first_digest_covers_a_day(kit):
    d = digests(kit)[TRANSPORT_ACCOUNT]
    assert d.names == ("示范区交通局",)
    assert d.since == NOW - days(1)
    assert group_ids(kit, d.new) == [("urgent", ["f1"]), ("complaint", ["f2"]), ("consultation", ["f3"])]
    assert ids(kit, d.due_soon.items) == ["f4"]
    assert ids(kit, d.overdue.items) == ["f6", "f5"]
    # f7 replied 5 h ago (on time); f8's reply (30 h ago) is older than a day
    assert ids(kit, d.replied.items) == ["f7"] and d.replied.items[0].on_time


def test_link_author_reason_and_deadline(kit):
    d = digests(kit)[TRANSPORT]
    f1 = d.new[0].section.items[0]
    assert f1.url == "https://weibo.com/1002/P1002"
    assert f1.author == "张三" and f1.routing_reason == "评论在账号 1002 下"
    assert f1.due_at == NOW + days(5)


def test_coverage_beside_the_district(kit):
    d = digests(kit)[TRANSPORT]
    (line,) = d.coverage
    assert line.label == "交通局"
    # 7 days: f1 f2 f3 f4 f7 f8 f10 (f9 dismissed is outside); replied f7 (on time), f8 (late)
    assert (line.days7.flags, line.days7.coverage, line.days7.on_time) == (7, pytest.approx(2 / 7),
                                                                           pytest.approx(1 / 7))
    # 30 days: also f5, f6
    assert (line.days30.flags, line.days30.coverage, line.days30.on_time) == (9, pytest.approx(2 / 9),
                                                                              pytest.approx(1 / 9))
    # the district adds g1, g2 (h1 is 100 days old)
    assert (d.district.days7.flags, d.district.days7.coverage) == (9, pytest.approx(2 / 9))
    assert (d.district.days30.flags, d.district.days30.on_time) == (11, pytest.approx(1 / 11))


def test_parent_units_get_the_escalation_section(kit):
    found = digests(kit)
    street = found[STREET]
    assert ids(kit, street.overdue.items) == ["h1"] and street.overdue.items[0].step == "stale"
    assert group_ids(kit, street.escalation) == [("东城第1社区", ["g1"])]
    assert street.escalation[0].section.items[0].step == "reminded"

    district = found[DISTRICT]
    assert district.new_total == 0 and district.overdue.total == 0
    # most overdue first, then by name
    assert group_ids(kit, district.escalation) == [("交通局", ["f6", "f5"]), ("东城第1社区", ["g1"]),
                                                   ("东城街道", ["h1"])]
    assert district.escalation_total == 4

    community = found[COMMUNITY]
    assert ids(kit, community.overdue.items) == ["g1"] and community.escalation == ()
    assert community.new_total == 0  # g2 is exactly a day old: the first digest covers (now − 24 h, now]
    assert ids(kit, community.due_soon.items) == []


def test_source_health(kit):
    found = digests(kit)
    street = found[STREET]
    (failing,) = street.failing
    assert (failing.account, failing.errors, failing.error_kind, failing.error_message) == \
        ("东城街道", 3, "server_error", "timeline: HTTP 502")
    assert failing.failing_since == NOW - hours(6)
    assert [a.account for a in street.silent14] == ["东城街道"] and street.silent10 == ()
    assert street.silent14[0].last_post_at == NOW - days(15)

    district = found[DISTRICT]
    assert [a.account for a in district.failing] == ["东城街道"]
    assert [a.account for a in district.silent14] == ["东城街道"]
    assert [a.account for a in district.silent10] == ["示范区发布"]
    assert found[TRANSPORT].silent10 == ()


def test_one_recipient_alone_equals_the_whole_run(kit):
    whole = digests(kit)
    for recipient in whole:
        assert digests(kit, [recipient]) == {recipient: whole[recipient]}


def test_subject_states_the_counts(kit):
    found = digests(kit)
    assert subject(found[TRANSPORT], "zh") == "【回声】交通局 新增待回复 2 条，超期 2 条"
    assert subject(found[STREET], "zh") == "【回声】东城街道 新增待回复 0 条，超期 1 条，下级超期 1 条"
    assert subject(found[TRANSPORT], "en") == "[Huisheng] 交通局: 2 new to answer, 2 overdue"


def test_empty_digest(kit):
    assert not digests(kit)[COMMUNITY].empty  # g1 is overdue
    # g1 answered two days ago, a digest sent an hour ago: nothing left to say
    with kit.sessions.begin() as session:
        g1 = session.get(Flag, kit.flag["g1"])
        g1.status, g1.first_reply_at = "replied", NOW - days(2)
        session.add(FlagEvent(flag_id=g1.id, at=NOW - days(2), kind="replied", actor="t", note="", data={}))
    kit.last_digest(COMMUNITY, NOW - hours(1))
    assert digests(kit)[COMMUNITY].empty


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HUISHENG_UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_text_part_matches_the_expected_file(kit):
    found = digests(kit)
    _golden("transport-account.zh.txt", render_digest(found[TRANSPORT_ACCOUNT], locale="zh").text)
    _golden("district.en.txt", render_digest(found[DISTRICT], locale="en").text)


def test_html_part(kit):
    html = render_digest(digests(kit)[TRANSPORT_ACCOUNT], locale="zh").html
    assert '<a href="https://weibo.com/1002/P1002">原帖</a>' in html
    assert "紧急！幸福路井盖丢失，有人掉进去了" in html
    for heading in ("新增待回复（3）", "1 个工作日内到期（1）", "已超期（2）", "上次日报以来已回复（1）"):
        assert heading in html
    assert "已通报" in html and "已督办" in html
    assert "28.6%" in html  # 2/7 on seven days
    en = render_digest(digests(kit)[TRANSPORT_ACCOUNT], locale="en").html
    assert "Overdue (2)" in en and "（" not in en.replace("（2）", "")
    assert "on the notice list" in en and "Complaint" in en


class Balance(HTMLParser):
    """Fails on an end tag that does not close the innermost open element."""

    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, tag


def well_formed(html: str) -> Balance:
    parser = Balance()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    return parser


def test_html_is_well_formed(kit):
    for digest in digests(kit).values():
        for locale in ("zh", "en"):
            well_formed(render_digest(digest, locale=locale).html)


HOSTILE = ("<script>alert('x')</script><img src=x onerror=alert(1)>"
           "\u202eevil\u202c 回复&quot; \u2066isolate\u2069 👩‍👩‍👧‍👦🇨🇳" + "很长的留言" * 2000)


def test_hostile_text_is_escaped_and_cut(kit):
    kit.make_flag("x", "1002", "B03", text=HOSTILE, created=NOW - hours(1), due=NOW + days(2),
                  author="<b>\u202e黑客</b>")
    d = digests(kit, [TRANSPORT])[TRANSPORT]
    rendered = render_digest(d, locale="zh")
    html, text = rendered.html, rendered.text
    assert "<script>" not in html and "<img src=x" not in html and "<b>" not in html
    assert well_formed(html).scripts == 0
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&amp;quot;" in html
    for part in (html, text):
        assert not re.search("[\u202a-\u202e\u2066-\u2069]", part)
        assert "👩‍👩‍👧‍👦🇨🇳" in part  # emoji kept whole
        assert "很长的留言" * 40 not in part  # 10 000 characters cut to an excerpt
        assert "很长的留言…" in part or "很长的…" in part or "…" in part
    assert "<script>alert('x')</script>" in text  # plain text shows it as text, harmlessly
    assert len(html) < 40_000 and len(text) < 20_000


def test_excerpt_keeps_emoji_sequences_whole():
    family = "👩‍👩‍👧‍👦"
    for limit in range(1, 9):
        cut = excerpt("ab" + family + "cd", limit)
        body = cut.rstrip("…")
        assert family in body or "👩" not in body
    assert excerpt("🇨🇳🇨🇳", 3) == "🇨🇳…"
    assert excerpt("é" * 3, 2) == "éé…"
    assert excerpt("e\u0301e\u0301", 3) == "e\u0301…"
    assert clean("a\u202eb\x00c\n\nd") == "ab c d"
