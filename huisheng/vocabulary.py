"""The domain's words, defined once: flag states, categories, unit levels,
routing kinds, flag event kinds and ladder steps, each with its Chinese and
English label.

Every member is a ``str`` (a :class:`~enum.StrEnum`) equal to the value the
database, the config files and the JSON output hold, so ``Category.HELP ==
"help"`` and a stored value needs no conversion.  Flags, digests, reports, the
workbench and the CLI take their labels from here::

    FlagState.OPEN.label()          # "待回复"
    Category.label_of("help", "en")  # "Help request"
    UnitLevel.labels("zh")           # {"district": "区级", …}
"""

from __future__ import annotations

from enum import StrEnum

class Labelled(StrEnum):
    """A StrEnum whose members are declared as ``NAME = value, zh, en``."""

    zh: str
    en: str

    def __new__(cls, value: str, zh: str, en: str) -> Labelled:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh, member.en = zh, en
        return member

    def label(self, lang: str = "zh") -> str:
        """The label in ``lang`` (``"en"``; anything else is Chinese)."""
        return self.en if lang == "en" else self.zh

    @classmethod
    def labels(cls, lang: str = "zh") -> dict[str, str]:
        """Value → label for every member, in declaration order."""
        return {m.value: m.label(lang) for m in cls}

    @classmethod
    def label_of(cls, value: str, lang: str = "zh") -> str:
        """The label of a stored value; a value this enum does not know is shown as it is."""
        member = cls._value2member_map_.get(value)
        return member.label(lang) if member is not None else value  # type: ignore[union-attr]

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


class FlagState(Labelled):
    """A flag's state, in the order it moves forward (dismissed stands aside)."""

    OPEN = "open", "待回复", "Open"
    ACKNOWLEDGED = "acknowledged", "已受理", "Acknowledged"
    REPLIED = "replied", "已回复", "Replied"
    RESOLVED = "resolved", "已办结", "Resolved"
    CLOSED = "closed", "已销号", "Closed"
    DISMISSED = "dismissed", "已驳回", "Dismissed"


class Category(Labelled):
    """What a comment asks for; the default priority order of the rules."""

    CONSULTATION = "consultation", "咨询", "Consultation"
    COMPLAINT = "complaint", "投诉", "Complaint"
    HELP = "help", "求助", "Help request"
    SUGGESTION = "suggestion", "建议", "Suggestion"
    PRAISE = "praise", "感谢", "Praise"


class UnitLevel(Labelled):
    """A unit's level, top down."""

    DISTRICT = "district", "区级", "District"
    DEPARTMENT = "department", "部门", "Department"
    STREET = "street", "街镇", "Street/town"
    COMMUNITY = "community", "社区/村", "Community/village"


class Routing(Labelled):
    """How a flag's owner unit was chosen (``manual``: reassigned by a person)."""

    MENTION = "mention", "@提及", "@mention"
    PLACE = "place", "地点", "Place"
    LEARNED = "learned", "学习模型", "Routing model"
    TOPIC = "topic", "话题", "Topic"
    ACCOUNT = "account", "账号主办单位", "Account's owner"
    MANUAL = "manual", "人工改派", "Reassigned by hand"


class EventKind(Labelled):
    """What a flag event (``FlagEvent.kind``) records."""

    CREATED = "created", "生成", "Raised"
    ACKNOWLEDGED = "acknowledged", "受理", "Acknowledged"
    REPLIED = "replied", "回复", "Replied"
    RESOLVED = "resolved", "办结", "Resolved"
    CLOSED = "closed", "办结销号", "Closed"
    DISMISSED = "dismissed", "不需回复", "No reply needed"
    REASSIGNED = "reassigned", "转办", "Reassigned"
    PROMISED = "promised", "承诺办结日期", "Date promised"
    REMINDER = "reminder", "催办", "Reminder"
    ESCALATED = "escalated", "督办", "Escalated"
    NOTICE = "notice", "通报", "Public notice"
    STALE = "stale", "长期未回复", "Stale"
    REOPENED = "reopened", "重新打开", "Reopened"
    HISTORY = "history", "历史留言", "History"


class LadderStep(Labelled):
    """The furthest step of the ladder (督办) an overdue flag has reached."""

    OVERDUE = "overdue", "超期", "overdue"
    REMINDED = "reminded", "已催办", "reminded"
    ESCALATED = "escalated", "已督办", "escalated"
    NOTICED = "noticed", "已通报", "on the notice list"
    STALE = "stale", "长期未回复", "stale"


#: the routing kinds the rules may rank (a person's reassignment is not a rule)
RULE_ROUTINGS: tuple[str, ...] = tuple(r.value for r in Routing if r is not Routing.MANUAL)

__all__ = ["Category", "EventKind", "FlagState", "LadderStep", "Labelled", "RULE_ROUTINGS", "Routing", "UnitLevel"]
