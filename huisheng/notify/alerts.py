"""Urgent alerts: every urgent flag is e-mailed once, as soon as it is stored,
to the administrators of the unit the routing chose (the street or community
where it happens; when that unit has none, the nearest unit above it that
has), to those of the account it was written under, and to the district duty
address when one is configured.  A historical flag (written before its
account's monitoring start) is not alerted.

The urgent ladder mails too (:meth:`AlertJob.ladder_step`, called by
:class:`huisheng.flags.ladder.Ladder` as it takes each step): the reminder at
half time to the same administrators, the escalation at the deadline to the
parent unit's administrators and the duty address.

The job runs every dispatcher tick right after the decide step.  A flag counts
as alerted once its ``alerted`` event is written, in the same transaction as
its messages are queued; the outbox's dedup key (recipient, "alert", flag id)
keeps a second queuing out even if two processes raced.  Only flags still
waiting for an answer (open or acknowledged) are alerted: one replied to in
the same poll needs nobody woken up.  Without a ``[mail]`` host the job does
nothing, so configuring mail later alerts the urgent flags still open then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from huisheng.clock import Clock
from huisheng.storage.models import Account, Comment, Flag, FlagEvent, Post, Unit
from huisheng.config.settings import Settings
from huisheng.notify import outbox
from huisheng.notify.digest import comment_link, next_step, post_link, workbench_url
from huisheng.notify.mail import MailSettings, mail_from_settings
from huisheng.notify.render import excerpt, render
from huisheng.users import signin

log = logging.getLogger(__name__)

ACTOR = "rule:alerts"
EVENT = "alerted"
#: characters of the comment shown in an alert (the platform shows the rest)
TEXT_LIMIT = 500
SUBJECT_EXCERPT = 40

LABELS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "subject": "【回声·紧急】{unit}：{text}",
        "heading": "紧急留言提醒",
        "intro": "{unit} 收到一条判定为紧急的群众留言，请立即核实处置并尽快回复。",
        "account": "账号", "unit": "责任单位", "category": "类别", "author": "留言人", "written": "留言时间",
        "due": "回复期限", "due_uncertain": "（节假日安排未公布，期限为估算）", "routing": "分派依据",
        "cues": "紧急判定依据", "text": "留言内容", "link": "查看原帖", "comment_link": "查看留言",
        "number": "编号",
        "handle": "处理记录：huisheng flags show {id}",
        "footer": "本邮件由回声（huisheng）自动发送，请勿直接回复。",
        "colon": "：", "sep": "、", "note": "紧急提醒已排队发送给 {n} 个地址",
        "nobody": "紧急留言无人可提醒：单位和账号均未配置管理员，也未配置值班邮箱",
        "reminder_subject": "【回声·紧急催办】{unit}：{text}",
        "reminder_heading": "紧急留言催办",
        "reminder_intro": "{unit} 的紧急群众留言已过回复时限的一半，仍未回复。请立即核实处置并回复。",
        "escalated_subject": "【回声·紧急督办】{unit}：{text}",
        "escalated_heading": "紧急留言超期督办",
        "escalated_intro": "{unit} 的紧急群众留言已超过回复期限，仍未回复，现提交上级单位和值班督办。"
                           "请督促处置并回复。",
    },
    "en": {
        "subject": "[Huisheng URGENT] {unit}: {text}",
        "heading": "Urgent comment",
        "intro": "{unit} received a comment classified as urgent. Please check and act on it now, "
                 "and reply soon.",
        "account": "Account", "unit": "Unit", "category": "Category", "author": "Author", "written": "Written",
        "due": "Reply due", "due_uncertain": " (holiday arrangement not yet published: estimated)",
        "routing": "Routed by", "cues": "Urgent because of", "text": "Comment", "link": "View post",
        "comment_link": "View comment", "number": "Number",
        "handle": "Record: huisheng flags show {id}",
        "footer": "Sent automatically by huisheng; please do not reply to this message.",
        "colon": ": ", "sep": ", ", "note": "urgent alert queued for {n} address(es)",
        "nobody": "no one to alert: neither unit nor account has administrators and no duty address is set",
        "reminder_subject": "[Huisheng URGENT reminder] {unit}: {text}",
        "reminder_heading": "Urgent comment: reminder",
        "reminder_intro": "Half the reply time of an urgent comment to {unit} has passed without a reply. "
                          "Please act on it now and reply.",
        "escalated_subject": "[Huisheng URGENT escalation] {unit}: {text}",
        "escalated_heading": "Urgent comment past its deadline",
        "escalated_intro": "An urgent comment to {unit} is past its reply deadline without a reply; it is "
                           "escalated to the parent unit and the duty officer. Please see that it is handled.",
    },
}


@dataclass(frozen=True)
class Alert:
    """What an alert says about a flag (the template's ``a``)."""

    flag_id: int
    unit: str
    account: str
    category: str
    author: str
    written_at: datetime
    due_at: datetime
    due_uncertain: bool
    routing_reason: str
    #: the matched words that made the comment urgent
    cues: tuple[str, ...]
    text: str
    link: str | None
    limit: int = TEXT_LIMIT
    #: the comment's own page on the platform, when it has one
    comment_link: str | None = None
    #: what to do next (``digest.next_step``) and the date promised, if any
    action: str | None = None
    promised_at: datetime | None = None


@dataclass(frozen=True)
class RenderedAlert:
    subject: str
    text: str
    html: str


@dataclass
class AlertResult:
    #: flag id → recipients queued
    alerted: dict[int, list[str]] = field(default_factory=dict)


def recipients(unit_admins: Iterable[str], account_admins: Iterable[str], duty: str | None) -> list[str]:
    """Each address once (case-insensitively), unit admins first."""
    out: list[str] = []
    seen: set[str] = set()
    for address in [*unit_admins, *account_admins, *([duty] if duty else [])]:
        address = address.strip()
        if address and address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def render_alert(alert: Alert, *, locale: str = "zh", tz: str = "Asia/Shanghai",
                 step: str | None = None, workbench: str | None = None) -> RenderedAlert:
    """The alert, or (``step``: reminder | escalated) a step of the urgent ladder;
    ``workbench``: the workbench's address, to link the flag's page there."""
    labels = LABELS.get(locale, LABELS["zh"])
    if step is not None:
        labels = {**labels, **{key: labels[f"{step}_{key}"] for key in ("subject", "heading", "intro")}}
    subject = labels["subject"].format(unit=excerpt(alert.unit, 40), text=excerpt(alert.text, SUBJECT_EXCERPT))
    context: dict[str, Any] = {"A": labels, "a": alert, "workbench": workbench}
    return RenderedAlert(subject=subject,
                         text=render("mail/alert.txt.j2", locale=locale, tz=tz, **context),
                         html=render("mail/alert.html.j2", locale=locale, tz=tz, **context))


def _admins_from(session: Session, unit: Unit | None) -> list[str]:
    """The administrators of ``unit``, or of the nearest unit above it that has some."""
    seen: set[int] = set()
    while unit is not None and unit.id not in seen:
        if unit.admins:
            return list(unit.admins)
        seen.add(unit.id)
        unit = session.get(Unit, unit.parent_id) if unit.parent_id is not None else None
    return []


def _cues(reasons: list[Any]) -> tuple[str, ...]:
    out = []
    for reason in reasons or ():
        if reason.get("kind") == "urgent":
            span = reason.get("span")
            out.append(span[2] if span else reason.get("rule", ""))
    return tuple(dict.fromkeys(c for c in out if c))


class AlertJob:
    """Queues the alerts of urgent flags not alerted yet (``run(now)``)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, settings: Settings,
                 mail: MailSettings | None = None, sender: outbox.Sender | None = None):
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.mail = mail or mail_from_settings(settings)
        #: delivers at once what this run queued, in the same tick (the periodic
        #: send job would take up to its interval; it still does the retries)
        self.sender = sender

    def pending(self, session: Session) -> list[Flag]:
        alerted = exists().where(FlagEvent.flag_id == Flag.id, FlagEvent.kind == EVENT)
        return list(session.scalars(select(Flag).where(
            Flag.urgent.is_(True), Flag.historical.is_(False), Flag.status.in_(("open", "acknowledged")),
            ~alerted).order_by(Flag.id)))

    def run(self, now: datetime | None = None) -> AlertResult:
        now = now or self.clock.now()
        result = AlertResult()
        if not self.mail.enabled:
            return result  # no [mail] host: flags stay unalerted until mail is configured
        with self.sessions() as session:
            ids = [f.id for f in self.pending(session)]
        for flag_id in ids:
            # one transaction per flag: its messages and its event together
            with self.sessions.begin() as session:
                queued = self._alert(session, flag_id, now)
            if queued is not None:
                result.alerted[flag_id] = queued
        if result.alerted:
            log.info("urgent alerts queued: %d flag(s), %d message(s)", len(result.alerted),
                     sum(len(r) for r in result.alerted.values()))
            if self.sender is not None and any(result.alerted.values()):
                self.sender.run(now)
        return result

    def _alert(self, session: Session, flag_id: int, now: datetime) -> list[str] | None:
        flag = session.get(Flag, flag_id)
        if flag is None or session.scalar(select(exists().where(FlagEvent.flag_id == flag_id,
                                                                FlagEvent.kind == EVENT))):
            return None  # another process got there first
        unit = session.get(Unit, flag.unit_id)
        account = session.get(Account, flag.account_id)
        labels = LABELS.get(self.mail.locale, LABELS["zh"])
        to = recipients(_admins_from(session, unit), account.admins or (), self.mail.duty_address)
        queued: list[str] = []
        if to:
            queued = self._queue(session, flag, unit, account, to, now, period=str(flag.id))
            note = labels["note"].format(n=len(queued))
        else:
            log.warning("urgent flag %d: %s", flag.id, labels["nobody"])
            note = labels["nobody"]
        # an event, not a transition: the flag itself (and its updated_at) stays as it was
        session.add(FlagEvent(flag_id=flag.id, at=now, kind=EVENT, actor=ACTOR, note=note,
                              data={"recipients": queued}))
        return queued

    def ladder_step(self, session: Session, flag: Flag, step: str, now: datetime) -> list[str]:
        """Mail a step of an urgent flag's ladder (the ladder's ``on_step``), in
        the ladder's transaction: the reminder to the administrators the alert
        went to, the escalation to the parent unit's and the duty address.
        Other flags' steps go in the digests; returns the addresses queued."""
        if not self.mail.enabled or not flag.urgent or flag.historical or step not in ("reminder", "escalated"):
            return []
        unit = session.get(Unit, flag.unit_id)
        account = session.get(Account, flag.account_id)
        if step == "reminder":
            to = recipients(_admins_from(session, unit), account.admins or (), None)
        else:
            parent = session.get(Unit, unit.parent_id) if unit.parent_id is not None else None
            to = recipients(_admins_from(session, parent), (), self.mail.duty_address)
        if not to:
            log.warning("urgent flag %d: nobody to tell of its %s", flag.id, step)
            return []
        return self._queue(session, flag, unit, account, to, now, period=f"{flag.id}:{step}", step=step)

    def _queue(self, session: Session, flag: Flag, unit: Unit, account: Account, to: list[str],
               now: datetime, *, period: str, step: str | None = None) -> list[str]:
        comment = session.get(Comment, flag.comment_id)
        post = session.get(Post, flag.post_id)
        alert = Alert(flag_id=flag.id, unit=unit.name, account=account.name, category=flag.category,
                      author=flag.author_name, written_at=flag.started_at, due_at=flag.due_at,
                      due_uncertain=flag.due_uncertain, routing_reason=flag.routing_reason,
                      cues=_cues(flag.reasons), text=comment.text,
                      link=post_link(post.platform, post.url, post.author_id, post.short_id, post.external_id),
                      comment_link=comment_link(post.platform, post.external_id, comment.external_id,
                                                comment.root_external_id, post.url),
                      action=next_step(flag.status, flag.category, flag.promised_at), promised_at=flag.promised_at)
        workbench = workbench_url(self.settings)
        queued = []
        for address in to:
            # rendered per address: each workbench user's copy signs them in
            rendered = render_alert(alert, locale=self.mail.locale, tz=self.settings.timezone, step=step,
                                    workbench=signin.mail_link_base(session, workbench, address, now))
            message = outbox.enqueue(session, recipient=address, kind="alert", period=period,
                                     subject=rendered.subject, text=rendered.text, html=rendered.html,
                                     now=now, mail=self.mail)
            if message is not None:
                queued.append(address)
        return queued
