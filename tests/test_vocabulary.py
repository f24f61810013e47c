"""One word for one thing: the domain's vocabulary (huisheng/vocabulary.py) is
what the database, the config files and the rules hold, and the e-mails, the
workbench, the reports and the CLI all say it with the same labels."""

from __future__ import annotations

from datetime import datetime, timezone

from huisheng.config.matrix import SCHEMA as MATRIX_SCHEMA
from huisheng.flags import lifecycle
from huisheng.flags.rules import SCHEMA as RULES_SCHEMA
from huisheng.flags.sla import SLA_TABLE
from huisheng.notify.render import LABELS, environment
from huisheng.reports.overdue import OverdueFlag
from huisheng.reports.tables import COVERAGE_COLUMNS, overdue_records
from huisheng.vocabulary import RULE_ROUTINGS, Category, EventKind, FlagState, LadderStep, Routing, UnitLevel
from huisheng.web import i18n

NOW = datetime(2026, 11, 5, tzinfo=timezone.utc)


def test_the_members_are_the_stored_values():
    assert FlagState.OPEN == "open" and Category("help") is Category.HELP
    assert lifecycle.ORDER + (FlagState.DISMISSED,) == tuple(FlagState)
    assert set(Category.values()) <= set(SLA_TABLE.items)
    assert tuple(RULES_SCHEMA.items["categories"].items) == Category.values()
    assert RULES_SCHEMA.items["routing"].items["priority"].choices == RULE_ROUTINGS == Routing.values()[:-1]
    assert ("district",) + MATRIX_SCHEMA.items["unit"].table.items["level"].choices == UnitLevel.values()
    for words in (FlagState, Category, UnitLevel, Routing, EventKind, LadderStep):
        for lang in ("zh", "en"):
            labels = words.labels(lang).values()
            assert len(set(labels)) == len(labels), (words, lang)


def test_mail_workbench_and_reports_say_the_same_words():
    env = environment()
    mail = env.from_string("{{ c | category }}/{{ s | step }}")
    for lang in ("zh", "en"):
        for category in Category:
            for step in LadderStep:
                assert mail.render(c=category.value, s=step.value, locale=lang) == \
                    f"{category.label(lang)}/{step.label(lang)}"
            assert i18n.category_name(category, lang) == category.label(lang)
        for state in FlagState:
            assert i18n.state_name(state, lang) == state.label(lang)
        for level in UnitLevel:
            assert i18n.level_name(level, lang) == level.label(lang)
    assert i18n.category_name("help", "en") == "Help request" == mail.render(c="help", s=None, locale="en")[:12]
    row = OverdueFlag(1, "交通局", "示范区交通局", "help", False, "张三", NOW, NOW, False, 1.0, "noticed", "…")
    (record,) = overdue_records([row], NOW, "zh", "csv")
    assert (record["category"], record["step"]) == ("求助", "已通报")


def test_the_digest_names_its_figures_as_the_reports_do():
    # the digest's coverage columns are the reports' figures: one term for each, in both languages
    columns = {c.key: c for c in COVERAGE_COLUMNS}
    for label, figure in (("flags", "flags"), ("coverage_rate", "coverage"), ("on_time_rate", "on_time_coverage")):
        for lang in ("zh", "en"):
            assert LABELS[lang][label].lower() == getattr(columns[figure], lang).lower(), (label, lang)
