"""What simulated residents and accounts write, with its ground-truth labels.

Texts are what a person types (plain text, emoticons as ``[赞]``, mentions as
``@name``); :mod:`huisheng.simulator.render` turns them into Weibo's HTML.
Pure functions of an injected ``random.Random``.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

ROADS = ("建设路", "人民路", "和平街", "光明路", "解放大街", "幸福路", "胜利街", "文化路", "朝阳路", "长青路")
ESTATES = ("阳光花园", "锦绣家园", "翠湖小区", "金色家园", "春晖园", "海棠苑", "怡景湾", "康乐小区", "枫林苑")

# What residents raise with a department, by a keyword of the department's name
# (routing truth): (category, template).
TOPICS: dict[str, tuple[tuple[str, str], ...]] = {
    "交通": (("complaint", "{road}和{road2}路口早高峰堵车太严重，红绿灯时间能不能调整一下"),
             ("consultation", "{road}的公交站牌被撤了，现在去哪里坐车")),
    "城市管理": (("complaint", "{road}占道经营太严重了，人行道都被摊位占满"),
                 ("complaint", "{estate}门口的垃圾桶满了好几天没人清运")),
    "教育": (("consultation", "孩子明年上小学，{estate}对应的是哪所学校，学位够不够"),
             ("consultation", "请问今年幼儿园入学报名什么时候开始")),
    "人力资源": (("consultation", "退休金调整今年什么时候到账"), ("consultation", "灵活就业人员社保怎么续缴")),
    "卫生健康": (("consultation", "社区卫生服务中心周末能打疫苗吗"),
                 ("suggestion", "{estate}附近的医院挂号太难了，建议增加号源")),
    "生态环境": (("complaint", "{road}旁边的工厂晚上偷偷排气，味道很刺鼻"),
                 ("complaint", "河道里漂着很多垃圾，水都发黑了")),
    "住房": (("consultation", "老旧小区加装电梯的补贴怎么申请"), ("consultation", "{estate}的公租房什么时候开始摇号")),
    "市场监督": (("complaint", "在{road}一家超市买到过期食品，商家拒绝退换"),
                 ("complaint", "外卖店没有营业执照照常营业，有人管吗")),
}

# Everyday matters that are a department's business though they name no
# department (新生儿落户 is the police's): written on a district account, the
# district routes them there (routing truth "topic"); elsewhere the account's
# owner stays answerable.  Template → a keyword of the department's name.
BUSINESS: dict[str, str] = {
    "请问{estate}的老旧小区改造什么时候开始": "住房",
    "请问孩子入学需要准备哪些材料": "教育",
    "請問孩子入學需要準備哪些材料": "教育",
    "怎么办理居住证，需要带什么": "公安",
    "如何申请公租房，在哪里提交材料": "住房",
    "社保卡丢了去哪里补办": "人力资源",
    "想问一下退休金调整什么时候发放？": "人力资源",
    "办理营业执照现在可以网上办吗": "市场监督",
    "医保异地备案怎么操作": "医疗保障",
    "新生儿落户需要哪些手续": "公安",
    "可不可以周末去办理不动产登记": "规划",
    "什么时候能恢复{road}的公交线路": "交通",
    "您好，想咨询一下独生子女父母奖励怎么领取": "卫生健康",
    "{estate}附近有没有可以打流感疫苗的地方": "卫生健康",
    "外地户口在这边能不能办理新能源车牌": "公安",
    "小孩医保卡怎么激活，线上能办吗": "医疗保障",
    "{estate}楼下烧烤摊每天晚上油烟太大，窗户都不敢开[怒]": "城市管理",
    "{road}占道经营太严重了，早高峰根本走不了": "城市管理",
    "晚上十一点了{estate}旁边工地还在施工，噪音吵得孩子睡不着": "住房",
    "{estate}的垃圾三天没人清运了，臭气熏天": "城市管理",
    "{road}上乱停车把消防通道都堵死了[怒][怒]": "公安",
    "物业不作为，{estate}电梯坏了半个月没人修": "住房",
    "投诉{estate}物业乱收费，停车费一年涨了两次": "住房",
    "{road}的路灯坏了好久了，晚上黑漆漆的很危险": "城市管理",
    "{estate}小区门口天天有人占道卖菜，垃圾扔一地": "城市管理",
    "{estate}的物業根本不管事，投訴多少次了": "住房",
    "{road}那家饭店油烟直排，楼上住户衣服都不敢晾！！！": "城市管理",
    "凌晨两点还有渣土车在{road}上轰隆隆地跑，能不能管管": "城市管理",
    "家里下水道反水，物业不管，求帮忙协调": "住房",
    "求助：被拖欠工资三个月了，老板联系不上，该找哪个部门": "人力资源",
    "独居老人行动不便，想申请上门服务，求联系方式": "民政",
    "急求帮助！孩子发烧，社区医院关门了，附近哪里还能看急诊": "卫生健康",
    "家里失火后房子没法住了，能申请临时救助吗": "民政",
    "建议在{road}和{road2}路口加装红绿灯，太危险了": "交通",
    "建议学校门口早晚高峰安排交警疏导": "公安",
    "建议{road}增加几个公共厕所": "城市管理",
    "希望小区门口的公交站能加个遮雨棚，老人等车太辛苦": "交通",
    "建议图书馆晚上多开一个小时，上班族下班赶不上": "文化和旅游",
}
#: every department keyword the simulator routes to
DEPARTMENT_KEYS = tuple(dict.fromkeys([*TOPICS, *BUSINESS.values()]))

CONSULTATION = (
    "请问{estate}的老旧小区改造什么时候开始",
    "请问孩子入学需要准备哪些材料",
    "怎么办理居住证，需要带什么",
    "如何申请公租房，在哪里提交材料",
    "社保卡丢了去哪里补办",
    "能否告知一下{road}的施工什么时候结束",
    "想问一下退休金调整什么时候发放？",
    "办理营业执照现在可以网上办吗",
    "{street}便民服务中心周六上班吗？",
    "医保异地备案怎么操作",
    "请问今年的供暖什么时候开始",
    "新生儿落户需要哪些手续",
    "老年卡在哪里办理",
    "公积金提取现在要什么材料",
    "可不可以周末去办理不动产登记",
    "有没有人知道{road}那边的停车场收不收费",
    "什么时候能恢复{road}的公交线路",
    "請問孩子入學需要準備哪些材料",
    "您好，想咨询一下独生子女父母奖励怎么领取",
    "{estate}附近有没有可以打流感疫苗的地方",
    "外地户口在这边能不能办理新能源车牌",
    "小孩医保卡怎么激活，线上能办吗",
)
COMPLAINT = (
    "{estate}楼下烧烤摊每天晚上油烟太大，窗户都不敢开[怒]",
    "{road}占道经营太严重了，早高峰根本走不了",
    "晚上十一点了{estate}旁边工地还在施工，噪音吵得孩子睡不着",
    "{estate}的垃圾三天没人清运了，臭气熏天",
    "{road}上乱停车把消防通道都堵死了[怒][怒]",
    "物业不作为，{estate}电梯坏了半个月没人修",
    "投诉{estate}物业乱收费，停车费一年涨了两次",
    "{road}的路灯坏了好久了，晚上黑漆漆的很危险",
    "广场舞音响每天开到晚上十点，噪音扰民严重",
    "{estate}小区门口天天有人占道卖菜，垃圾扔一地",
    "{estate}的物業根本不管事，投訴多少次了",
    "{road}那家饭店油烟直排，楼上住户衣服都不敢晾！！！",
    "凌晨两点还有渣土车在{road}上轰隆隆地跑，能不能管管",
    "小区地下车库被外来车辆长期占用，业主反而没地方停",
    "打了三次12345都说转办了，{estate}的噪音问题还是没人管[怒]",
)
HELP = (
    "求助！家里老人走失了，穿蓝色外套，最后出现在{road}附近",
    "求助，{estate}停水两天了，家里有老人孩子，怎么办啊",
    "家里下水道反水，物业不管，求帮忙协调",
    "求助：被拖欠工资三个月了，老板联系不上，该找哪个部门",
    "楼道里的暖气管漏水，家里没人能处理，求帮助",
    "独居老人行动不便，想申请上门服务，求联系方式",
    "急求帮助！孩子发烧，社区医院关门了，附近哪里还能看急诊",
    "家里失火后房子没法住了，能申请临时救助吗",
)
#: help texts that are urgent too (a missing person, of any age); kept in HELP so that a
#: seed's world keeps its texts
URGENT_IN_HELP = frozenset({"求助！家里老人走失了，穿蓝色外套，最后出现在{road}附近"})
URGENT_HELP = (
    "{estate}3号楼楼道里煤气味很重，急！谁能帮忙联系一下",
    "{road}有人落水了，快来人！",
)
SUGGESTION = (
    "建议在{road}和{road2}路口加装红绿灯，太危险了",
    "建议{estate}增设电动车充电桩，现在大家都飞线充电",
    "希望能在{street}多建几个口袋公园",
    "建议学校门口早晚高峰安排交警疏导",
    "可以考虑延长便民服务中心的周末开放时间",
    "建议{road}增加几个公共厕所",
    "希望小区门口的公交站能加个遮雨棚，老人等车太辛苦",
    "建议图书馆晚上多开一个小时，上班族下班赶不上",
)
PRAISE = (
    "点赞！{road}修好以后出行方便多了[赞][赞]",
    "感谢社区工作人员，上门帮我们办好了手续",
    "为你们的工作效率点赞[赞]",
    "辛苦了！[心]",
    "谢谢{street}的网格员，问题当天就解决了",
    "不是投诉，就是想说一句，最近小区环境好多了",
    "昨天反映的路灯今天就修好了，效率真高👍",
    "社区组织的义诊活动很贴心，给工作人员点赞[赞]",
)
NO_REPLY = ("[赞][赞]", "[心][心][心]", "[good]", "转发微博", "沙发", "学习了", "来了来了[哈哈]",
            "收藏了", "[鼓掌][鼓掌][鼓掌]")
SPAM = ("加V信了解兼职，日赚300，名额有限", "低价代办各类证件，私信我")

FOLLOW_UP = ("还是没有解决啊，到底什么时候能处理", "你们说转交了，可是一个星期过去了还是老样子",
             "问题依旧存在，麻烦再跟进一下")
CITIZEN_CHAT = ("同问", "我们小区也是这样", "+1，一样的情况", "楼上说得对", "[赞]", "同感，希望早点解决")

OWNER_REPLY = {
    "consultation": ("您好，可携带身份证、户口本到{street}便民服务中心办理，咨询电话12345。",
                     "您好，具体时间以官方通知为准，请关注本账号后续发布。",
                     "您好，该事项可通过“一网通办”平台在线办理，无需到现场。"),
    "complaint": ("您好，您反映的问题已转交相关部门处理，感谢您的监督。",
                  "您好，执法队员已到现场核查处理，后续将加强巡查。",
                  "您好，已责成物业限期整改，如仍未解决请私信我们。"),
    "help": ("您好，已联系社区工作人员上门了解情况，请保持电话畅通。",
             "您好，请私信留下联系方式，我们马上对接。"),
    "suggestion": ("感谢您的建议，我们已记录并转交相关部门研究。",
                   "您好，您的建议很好，我们会认真研究采纳。"),
    "praise": ("感谢您的支持！", "谢谢您的认可，我们会继续努力[心]"),
}
ACKS = ("已收到，正在处理", "收到，已转相关部门处理", "您好，已收到您的留言，正在核实")

POST_TITLES = (
    "【通知】关于{road}道路施工期间交通管制的通告",
    "【提醒】近期气温骤降，请居民注意防寒保暖",
    "【政策解读】城乡居民医保缴费指南",
    "#我为群众办实事# {unit}今日开展志愿服务活动",
    "【便民】{street}便民服务中心办理时间调整",
    "【安全】冬季用火用电安全提示",
    "【招聘】{unit}公开招聘工作人员公告",
    "【活动】“邻里节”将于本周末在{estate}举办",
    "【关注】垃圾分类，从我做起",
    "【权威发布】{unit}召开专题会议部署近期重点工作",
)
LONG_BODY = (
    "为进一步方便群众办事，提高服务效率，根据上级部门统一部署，现将有关事项通知如下：",
    "一、办理时间：工作日上午9:00至12:00，下午13:30至17:30，法定节假日除外。",
    "二、办理地点：{street}便民服务中心一楼综合窗口，也可通过政务服务平台在线申请。",
    "三、所需材料：本人有效身份证件原件及复印件、相关证明材料，委托办理的还需提供委托书。",
    "四、注意事项：请提前预约，按预约时段到场，避免排队等候；如有疑问可拨打咨询电话。",
    "特此通知，感谢广大居民的理解和支持！",
)
POST_SHORT_TAIL = ("详情请关注后续发布。", "欢迎大家留言反映问题。", "请相互转告。", "")
EDIT_TAILS = ("（更正：时间调整为下午14:30）", "【更新】活动地点变更为{street}文化活动中心", "（补充：需携带身份证原件）")

CITIZEN_NAMES_A = ("晴天", "老王", "小李", "阿杰", "木子", "快乐的", "一只", "江南", "北方的", "安静的")
CITIZEN_NAMES_B = ("的猫", "不吃香菜", "在路上", "爱生活", "小区居民", "上班族", "宝妈", "大叔", "同学", "路人甲")


@dataclass(frozen=True)
class Written:
    """A resident's comment as typed, with its ground truth."""

    text: str
    category: str | None
    needs_reply: bool
    routing: str = "account"
    target_hint: str | None = None
    hostile: str | None = None
    urgent: bool = False


def fill(template: str, rng: random.Random, places: "Places", unit: str = "") -> str:
    return fill_naming(template, rng, places, unit)[0]


def fill_naming(template: str, rng: random.Random, places: "Places", unit: str = "") -> tuple[str, str | None]:
    """The filled text, and the street it names (None when it names none)."""
    road, road2 = rng.sample(ROADS, 2)
    estate = rng.choice(ESTATES)
    street = rng.choice(places.streets) if places.streets else None
    named = street if street is not None and "{street}" in template else None
    return template.format(road=road, road2=road2, estate=estate, street=street or "街道", unit=unit), named


@dataclass(frozen=True)
class Places:
    """Place names taken from the matrix: (name, unit code) of streets and communities."""

    streets: tuple[str, ...]
    place_units: tuple[tuple[str, str], ...]
    #: (department name keyword, unit code) for topic routing
    topic_units: tuple[tuple[str, str], ...]

    def place_unit(self, name: str) -> str | None:
        return next((code for n, code in self.place_units if n == name), None)

    def topic_unit(self, key: str) -> str | None:
        return next((code for k, code in self.topic_units if k == key), None)

    @functools.cached_property
    def topics(self) -> tuple[tuple[str, str], ...]:
        """The (keyword, unit code) of departments with :data:`TOPICS` of their own."""
        return tuple((key, code) for key, code in self.topic_units if key in TOPICS)


def citizen_name(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"用户{rng.randrange(10**9, 10**10)}"
    return rng.choice(CITIZEN_NAMES_A) + rng.choice(CITIZEN_NAMES_B) + str(rng.randrange(10, 9999))


def resident_comment(rng: random.Random, places: Places, level: str, mention_names: tuple[str, ...]) -> Written:
    """One top-level comment: its text and labels (target unit resolved by the caller
    from ``routing``/``target_hint``)."""
    roll = rng.random()
    if roll < 0.22:
        cat, bank = "consultation", CONSULTATION
    elif roll < 0.42:
        cat, bank = "complaint", COMPLAINT
    elif roll < 0.50:
        cat, bank = "help", HELP
    elif roll < 0.58:
        cat, bank = "suggestion", SUGGESTION
    elif roll < 0.70:
        cat, bank = "praise", PRAISE
    elif roll < 0.90:
        cat, bank = None, NO_REPLY
    elif roll < 0.92:
        cat, bank = None, SPAM
    else:
        cat, bank = "topic", ()
    if cat is None:
        text = rng.choice(bank)
        if text == "沙发" and mention_names and rng.random() < 0.5:
            text = " ".join(f"@{n}" for n in rng.sample(mention_names, min(2, len(mention_names))))
        return Written(text, None, False)
    topics = places.topics
    if cat == "topic":
        # Only the district's own accounts hear topics meant for a department; elsewhere
        # the owner of the account stays answerable (街乡吹哨, 部门报到).
        if level != "district" or not topics:
            cat, bank = "consultation", CONSULTATION
        else:
            key, code = rng.choice(topics)
            category, template = rng.choice(TOPICS[key])
            return Written(fill(template, rng, places), category, True, routing="topic", target_hint=code)
    if cat == "help" and rng.random() < 0.1:
        return Written(fill(rng.choice(URGENT_HELP), rng, places), "help", True, urgent=True)
    template = rng.choice(bank)
    text, street = fill_naming(template, rng, places)
    needs = cat != "praise"
    urgent = template in URGENT_IN_HELP
    # Place routing: a department or the district hears about a named community.
    if needs and level in ("district", "department") and places.place_units and rng.random() < 0.15:
        name, code = rng.choice(places.place_units)
        text = rng.choice(("{n}", "我是{n}的居民，", "{n}这边", "住在{n}，")).format(n=name) + text
        return Written(text, cat, needs, routing="place", target_hint=code, urgent=urgent)
    if needs and mention_names and rng.random() < 0.1:
        name = rng.choice(mention_names)
        return Written(f"@{name} {text}", cat, needs, routing="mention", target_hint=name, urgent=urgent)
    # The district's routing policy, in its order: a named street, then the department's business.
    if needs and street is not None and level in ("district", "department") \
            and (code := places.place_unit(street)):
        return Written(text, cat, needs, routing="place", target_hint=code, urgent=urgent)
    if needs and level == "district" and template in BUSINESS and (code := places.topic_unit(BUSINESS[template])):
        return Written(text, cat, needs, routing="topic", target_hint=code, urgent=urgent)
    return Written(text, cat, needs, urgent=urgent)


def hostile(rng: random.Random, base: Written) -> Written:
    """Decorate a comment with something a careless parser would choke on."""
    kind = rng.choice(("html", "script", "wall", "rtl", "emoji"))
    text = base.text
    if kind == "html":
        text = f"<b>{text}</b><img src=x onerror=alert(1)>"
    elif kind == "script":
        text = f"{text}<script>alert(1)</script>"
    elif kind == "wall":
        unit = text + "！"
        text = (unit * (10000 // len(unit) + 1))[:10000]
    elif kind == "rtl":
        text = f"\u202e{text}\u202c"
    else:
        text = f"{text}😡😡🔥👍🏻‍"
    return Written(text, base.category, base.needs_reply, base.routing, base.target_hint, kind, base.urgent)


def owner_reply(rng: random.Random, category: str | None, places: Places) -> str:
    bank = OWNER_REPLY.get(category or "praise", OWNER_REPLY["praise"])
    return fill(rng.choice(bank), rng, places)


def post_text(rng: random.Random, places: Places, unit: str, long: bool) -> str:
    title = fill(rng.choice(POST_TITLES), rng, places, unit)
    if not long:
        return title + rng.choice(POST_SHORT_TAIL)
    body = "".join(fill(p, rng, places, unit) for p in LONG_BODY)
    return title + body
