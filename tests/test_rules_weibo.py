"""The default rules on comments as Weibo users write them: questions that end in
emoticons, emoji or repeated punctuation; reports of a violation with no question
in them; banter aimed at a person; replies to other residents; urgent cases such
as a missing person of any age.  And the scoring: one phrase scores once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from huisheng.cli import main
from huisheng.errors import ConfigError
from huisheng.adapters import text_conventions
from huisheng.flags.classify import Decision, Subject, build_directory, decide
from huisheng.flags.rules import DEFAULT_RULES, load_rules, parse_rules
from huisheng.config.matrix import load_matrix

WEIBO_TEXT = text_conventions("weibo")

ROOT = Path(__file__).resolve().parent.parent
DISTRICT_UID = "5706878669"      # 沙坪坝发布
POLICE_UID = "5673254969"        # 平安沙坪坝


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def directory():
    return build_directory(load_matrix(ROOT / "config" / "example-district"))


def run(text: str, rules, directory, account: str = DISTRICT_UID, reply_to: str | None = None) -> Decision:
    return decide(Subject(text=text, author_id="1234567", author_name="居民", platform="weibo",
                          conventions=WEIBO_TEXT, account_uid=account,
                          reply_to_name=reply_to), rules, directory)


def counted(d: Decision, category: str) -> list[str]:
    """The matched texts that added to ``category``'s score."""
    return [r.span.text for r in d.reasons
            if r.kind == "category" and r.rule.startswith(category + "/") and "+" in r.detail]


# --- a question stays a question whatever follows it ------------------------------


@pytest.mark.parametrize("text, particle", [
    ("图书馆国庆期间开门吗[疑问]", "吗"),
    ("医保断缴三个月了还能补吗😭", "吗"),
    ("请问办居住证要带户口本吗？？", "吗"),
    ("明天暴雨还上课吗???", "吗"),
    ("社保卡换卡可以线上预约吗…", "吗"),
    ("公租房租金能用公积金付么～～", "么"),
    ("驾照到期换证可以在手机上办嘛[疑问][疑问]", "嘛"),
    ("这个补贴退休人员能领吗🙏🙏 @沙坪坝人社", "吗"),
])
def test_a_question_particle_before_emoticons_emoji_or_punctuation_is_a_question(text, particle, rules,
                                                                                  directory):
    d = run(text, rules, directory)
    assert (d.needs_reply, d.category) == (True, "consultation"), d.reasons
    assert particle in counted(d, "consultation")


def test_the_question_emoticon_counts_as_a_question_mark(rules, directory):
    d = run("办事大厅周六上班[疑问]", rules, directory)
    assert (d.needs_reply, d.category) == (True, "consultation")
    assert counted(d, "consultation") == ["[疑问]"]


@pytest.mark.parametrize("text", ["什么都好，就是人有点多", "怎么可以这么好看！！！[心]", "这么多年了还是这个味道，爱了爱了",
                                  "沙坪坝的夜景什么时候都好看"])
def test_exclamations_and_indefinite_wh_words_are_not_questions(text, rules, directory):
    assert not run(text, rules, directory).needs_reply


# --- a report of a violation or a harm is a complaint ------------------------------


@pytest.mark.parametrize("text", [
    "举报有人往河里倒废油",
    "反映一下，某幼儿园老师午睡时把孩子关在小黑屋里",
    "小区物业强制业主交两千块装修押金，不交就不让装修",
    "楼下饭店天天在人行道上杀鱼，污水流了一地",
    "实名举报驾校教练收学员红包",
    "养老院的护工对老人大吼大叫",
    "那家KTV的消防通道被杂物堵得死死的",
    "停车场牌子写5元一小时，出来收了我30",
    "隔壁厂子晚上偷偷烧东西，黑烟直往小区飘",
    "拆迁办的人晚上十点来敲门，说不签就断水断电",
    "火车站的出租车不打表，说好的三十到了要五十",
    "学校门口的马路没有斑马线，孩子每天过马路都提心吊胆",
    "学校要求每个孩子买一台指定品牌的平板电脑，三千多",
    "公交车上的投币机吞钱，投了两块没反应",
])
def test_a_report_of_a_violation_or_a_harm_is_a_complaint(text, rules, directory):
    d = run(text, rules, directory)
    assert (d.needs_reply, d.category, d.urgent) == (True, "complaint", False), d.reasons
    assert not counted(d, "consultation")


# --- said to a person, not to the government ---------------------------------------


@pytest.mark.parametrize("text", [
    "小编好帅",
    "哈哈哈 @小明 快来看",
    "是不是又要放假了哈哈哈",
    "小编是不是偷偷换人了，这么接地气哈哈哈",
    "我也想当小编，还招人吗哈哈",
    "小编有对象吗，没有的话我介绍一个",
    "我就想知道小编下班了没有[doge]",
    "这个视频能不能发一份到抖音上",
    "建议小编把这期也发B站",
    "小编求原图！！想做壁纸",
    "想问一下这首背景音乐叫什么名字",
    "@李二狗 这不就是你天天吃的那家吗😂",
    "楼上的，我也在那个小区，要不要一起拼车上班？",
    "你是哪个小区的？我也住附近",
    "有没有一起去的姐妹，私我",
    "你们知道吗，这里以前是个纺织厂",
])
def test_banter_and_requests_about_the_post_itself_are_not_flagged(text, rules, directory):
    d = run(text, rules, directory)
    assert not d.needs_reply, d.reasons


def test_a_question_in_a_reply_to_another_resident_is_for_that_resident(rules, directory):
    d = run("回复@山城小王子:你是哪个学校的？我们好像是校友", rules, directory)
    assert not d.needs_reply
    why = next(r for r in d.reasons if r.rule == "to_residents/reply")
    assert "山城小王子" in why.detail and why.span.text == "回复@山城小王子:"
    # the adapter's reply_to_name says the same when the text has no prefix
    assert not run("你说的那个地方在哪里啊", rules, directory, reply_to="山城小王子").needs_reply
    assert run("你说的那个地方在哪里啊", rules, directory).needs_reply


def test_a_reply_to_a_resident_still_counts_when_it_speaks_to_the_government(rules, directory):
    # to a matrix account: a question to the government
    assert run("回复@沙坪坝发布:那我们小区算老旧小区吗？", rules, directory).category == "consultation"
    # @ of a matrix account, or addressing 小编
    assert run("回复@小王:@沙坪坝城管 这个到底什么时候修？", rules, directory).needs_reply
    assert run("回复@小王:小编，这个到底什么时候修？", rules, directory).needs_reply
    # complaints and calls for help are not questions to the resident: they count
    d = run("回复@小王:我们小区的垃圾也三天没人清了，臭气熏天", rules, directory)
    assert (d.needs_reply, d.category) == (True, "complaint")


# --- one phrase scores once -----------------------------------------------------------


def test_overlapping_matches_of_one_phrase_score_once(rules, directory):
    d = run("这个是不是免费的", rules, directory)
    consultation = [r for r in d.reasons if r.kind == "category" and r.rule.startswith("consultation/")]
    # 是不是 matches three rules (keyword, A-not-A, A不A): it adds the weight of one
    assert {r.span.text for r in consultation} == {"是不是"} and len(consultation) == 3
    assert sum("+" in r.detail for r in consultation) == 1
    assert sum("不重复计分" in r.detail for r in consultation) == 2
    assert "类别「咨询」（得分 2）需回复" in [r.detail for r in d.reasons]
    # separate signals still add up
    assert "类别「咨询」（得分 4）需回复" in [r.detail for r in run("请问这个免费吗", rules, directory).reasons]


def test_the_heaviest_of_overlapping_matches_counts(tmp_path, directory):
    path = tmp_path / "rules.yaml"
    path.write_text("min_score: 3\ncategories:\n  complaint:\n    weight: 1\n    keywords: [没人, 没人管]\n"
                    "    patterns: [{regex: '没人管(了)?', weight: 3}, {regex: '物业', weight: 1}]\n",
                    encoding="utf-8")
    d = run("物业没人管了", load_rules(path), directory)
    assert (d.needs_reply, d.category) == (True, "complaint")
    assert "类别「投诉」（得分 4）需回复" in [r.detail for r in d.reasons]  # 物业 1 + 没人管了 3
    d = run("没人管", load_rules(path), directory)
    assert "类别「投诉」（得分 3）需回复" in [r.detail for r in d.reasons]


# --- urgent: a missing person of any age, fire, gas, drowning, violence, self-harm ---


@pytest.mark.parametrize("text", [
    "急！我爸今年七十八，有阿尔茨海默症，今天上午在三峡广场附近走失，穿灰色夹克",
    "我妈有老年痴呆，下午从医院出来就不见了，穿红色外套",
    "我奶奶早上出门买菜，到现在电话打不通人也没回来",
    "病房里的病人自己拔了针头跑出去了，现在找不到人",
    "寻人：男，32岁，精神状态不好，昨晚从家中离开后失联",
    "我家孩子14岁，昨天晚上跑出去到现在联系不上",
    "有个小孩在小区门口哭了半小时，说找不到妈妈",
    "楼下垃圾堆起火，火越烧越大",
    "厨房里一股很冲的燃气味，不敢开灯",
    "水库边有个小孩下水游泳半天没上来！！",
    "隔壁男的又在打老婆，哭喊声整栋楼都听得到",
    "我弟弟打电话说要从桥上跳下去",
    "我女儿失联两天了",
    "孩子出去玩到现在还没回来",
    "带老人去旅游，在景区走失了，急",
    "求大家帮忙找走失的孩子，穿黄色衣服，五岁",
    "小区三楼阳台冒火了，有人在里面喊救命",
    "工地上的塔吊歪了，下面还有工人在干活",
])
def test_urgent_cases_of_every_kind(text, rules, directory):
    d = run(text, rules, directory, POLICE_UID)
    assert d.urgent and d.needs_reply and d.category is not None, d.reasons


@pytest.mark.parametrize("text", [
    "孩子的医保卡丢了，补办要带什么",
    "家里孩子的出生证明找不到了，能补办吗",
    "去年我家老人也走丢过一次，幸好派出所帮忙找回来了",
    "上次我儿子在商场走丢，保安十分钟就帮忙找到了，点赞",
    "民警帮走失老人找到家人，为你们点赞！",
    "想死你们了，在外地三年没回来了",
    "救命这也太好看了吧",
    "这个跳楼机刺激吗，几岁小孩能玩",
    "一直被困扰，睡不好觉",
    "看了新闻说外地煤气爆炸了，大家注意安全",
    "家里冰箱冒烟了一下，已经拔了插头没事了",
    "工厂烟囱天天冒黑烟",
    "我妈联系不上物业，只好在这里留言",
    "我爸出门旅游去了，到现在都没回来，真羡慕",
    "看到警察叔叔抱着走失的孩子，好感动",
])
def test_lookalikes_are_not_urgent(text, rules, directory):
    assert not run(text, rules, directory, POLICE_UID).urgent


def test_praise_after_a_person_was_found_needs_no_reply(rules, directory):
    d = run("上次我儿子在商场走丢，保安十分钟就帮忙找到了，点赞", rules, directory, POLICE_UID)
    assert (d.needs_reply, d.category) == (False, "praise")


# --- the rules file ------------------------------------------------------------------


def test_to_residents_is_checked_like_the_rest(tmp_path):
    with pytest.raises(ConfigError) as caught:
        parse_rules("to_residents:\n  cancels: [consultation, gossip]\n  address: 5\n  extra: 1\n", "r.yaml")
    text = str(caught.value)
    assert "to_residents.cancels" in text and "gossip" in text
    assert "to_residents.address" in text and "to_residents.extra" in text


def test_without_to_residents_a_reply_to_a_resident_is_judged_like_any_comment(tmp_path, directory):
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    start = text.index("\nto_residents:")
    end = text.index("\n\n", start + 1)
    path = tmp_path / "rules.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    d = run("回复@山城小王子:你是哪个学校的？", load_rules(path), directory)
    assert (d.needs_reply, d.category) == (True, "consultation")


# --- measuring urgency -----------------------------------------------------------------


def test_rules_eval_measures_urgency_when_the_file_labels_it(tmp_path):
    config = str(ROOT / "config" / "huisheng.example.toml")
    labelled = tmp_path / "l.csv"
    with labelled.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([
            ["text", "needs_reply", "urgent"],
            ["我爸有老年痴呆，早上出门到现在还没回来", "1", "1"],
            ["楼下垃圾堆起火了", "1", "1"],
            ["家里老人腿脚不便，想申请上门服务", "1", "1"],   # labelled urgent, not found: a miss
            ["孩子的医保卡丢了怎么补办", "1", "0"],
            ["请问社保卡在哪里补办", "1", ""],               # not labelled: not counted
        ])
    table = CliRunner().invoke(main, ["rules", "eval", str(labelled), "--config", config])
    assert table.exit_code == 0, table.output
    assert "紧急：精确率 1.000  召回率 0.667（标注为紧急 3 条；TP 2  FP 0  FN 1）" in table.output
    data = json.loads(CliRunner().invoke(main, ["rules", "eval", str(labelled), "--format", "json",
                                                "--config", config]).output)
    assert data["urgent"] == {"precision": 1.0, "recall": 0.6667, "tp": 2, "fp": 0, "fn": 1, "labelled": 3}
    with labelled.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["有人落水", "1", "maybe"])
    bad = CliRunner().invoke(main, ["rules", "eval", str(labelled), "--config", config])
    assert bad.exit_code == 1 and f"{labelled}:7: urgent: urgent 应为 1 或 0，实际为「maybe」" in bad.output
