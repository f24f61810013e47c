"""The workbench's words, Chinese first.  A template asks ``t("key")``; the
vocabulary of flags (states, categories) comes from the flag code itself."""

from __future__ import annotations

from typing import Mapping

from huisheng.flags.lifecycle import CATEGORY_NAMES, STATE_NAMES

LOCALES = ("zh", "en")

_EN_STATES = {"open": "Open", "acknowledged": "Acknowledged", "replied": "Replied", "resolved": "Resolved",
              "closed": "Closed", "dismissed": "Dismissed"}
_EN_CATEGORIES = {"consultation": "Consultation", "complaint": "Complaint", "help": "Help",
                  "suggestion": "Suggestion", "praise": "Praise"}

WORDS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "app": "回声工作台", "inbox": "我的待办", "audit": "考评", "signout": "退出", "signin": "登录",
        "email": "电子邮箱", "password": "密码", "send_link": "发送登录链接", "signin_password": "用密码登录",
        "link_sent": "如果该邮箱属于工作台用户，登录链接已发送，请查收邮件（{minutes} 分钟内有效，只能使用一次）。",
        "bad_password": "邮箱或密码不正确。", "link_invalid": "登录链接无效、已过期或已使用，请重新获取。",
        "link_confirm": "点击下方按钮登录回声工作台。", "link_continue": "登录并继续",
        "signed_out": "已退出。", "csrf": "页面已过期，请刷新后重试。", "no_mail": "未配置邮件服务器，无法发送登录链接，请联系区管理员。",
        "section_all": "全部", "section_urgent": "紧急", "section_overdue": "已超期", "section_soon": "即将到期",
        "section_new": "新留言", "section_doing": "办理中",
        "filter": "筛选", "search": "搜索留言", "account": "账号", "category": "类别", "state": "状态",
        "any": "全部", "unit": "单位", "due": "期限", "text": "留言", "author": "留言人", "time": "留言时间",
        "no_flags": "没有符合条件的待办。", "prev": "上一页", "next": "下一页", "page": "第 {page} / {pages} 页",
        "in_all": "共 {total} 条", "flag": "需回复", "on_platform": "在平台上查看", "thread": "对话",
        "owner_reply": "本单位回复", "reasons": "判定依据", "routing": "分派", "clock": "时钟",
        "started": "开始", "deadline": "期限", "first_reply": "首次回复", "remaining": "剩余 {hours} 工作小时", "remaining_clock": "剩余 {hours} 小时",
        "overdue": "已超期", "uncertain": "期限所在年份的节假日安排未录入，期限按兜底规则估算",
        "ladder": "督办", "reminded": "催办", "escalated": "督办", "noticed": "通报", "stale": "长期未办",
        "promised": "承诺办结", "events": "记录", "actions": "操作", "note": "说明",
        "act_ack": "受理", "act_reply": "线下已回复", "act_promise": "承诺办结日期", "act_resolve": "办结",
        "act_close": "办结销号", "act_reassign": "转办", "act_dismiss": "不需回复",
        "reply_note": "如何答复的（电话、走访……）与答复内容", "promise_date": "办结日期",
        "extend_reason": "超过 {days} 个工作日须说明理由", "reassign_to": "转办给", "suggested": "建议",
        "dismiss_reason": "不需回复的理由", "done": "已完成：{action}", "not_allowed": "无权操作。",
        "urgent": "紧急", "historical": "历史", "follow_up": "追问，前一条", "readonly": "考评员只读，不能操作。",
        "lang_other": "English", "post": "博文", "none": "无", "by": "操作人",
        "unknown_unit": "未找到单位“{name}”。", "bad_date": "日期格式应为 2026-12-20。",
    },
    "en": {
        "app": "huisheng workbench", "inbox": "My inbox", "audit": "Audit", "signout": "Sign out",
        "signin": "Sign in", "email": "E-mail", "password": "Password", "send_link": "E-mail me a sign-in link",
        "signin_password": "Sign in with password",
        "link_sent": "If this address belongs to a workbench user, a sign-in link is on its way "
                     "(valid {minutes} minutes, once).",
        "bad_password": "Wrong e-mail or password.", "link_invalid": "This sign-in link is invalid, expired or "
                                                                     "used; ask for a new one.",
        "link_confirm": "Press the button to sign in to the huisheng workbench.", "link_continue": "Sign in",
        "signed_out": "Signed out.", "csrf": "The page expired; reload and try again.",
        "no_mail": "No mail server is configured, so no sign-in link can be sent; ask the district administrator.",
        "section_all": "All", "section_urgent": "Urgent", "section_overdue": "Overdue", "section_soon": "Due soon",
        "section_new": "New", "section_doing": "In progress",
        "filter": "Filter", "search": "Search text", "account": "Account", "category": "Category",
        "state": "State", "any": "Any", "unit": "Unit", "due": "Due", "text": "Message", "author": "Author",
        "time": "Written", "no_flags": "Nothing matches.", "prev": "Previous", "next": "Next",
        "page": "Page {page} of {pages}", "in_all": "{total} in all", "flag": "Flag",
        "on_platform": "Open on the platform", "thread": "Thread", "owner_reply": "Our reply",
        "reasons": "Why flagged", "routing": "Routing", "clock": "Clock", "started": "Started",
        "deadline": "Deadline", "first_reply": "First reply", "remaining": "{hours} working hours left",
        "remaining_clock": "{hours} hours left",
        "overdue": "Overdue", "uncertain": "the holiday arrangement of the deadline's year is not configured; "
                                           "the deadline is an estimate",
        "ladder": "Escalation", "reminded": "Reminded", "escalated": "Escalated", "noticed": "Public notice",
        "stale": "Stale", "promised": "Promised", "events": "History", "actions": "Actions", "note": "Note",
        "act_ack": "Acknowledge", "act_reply": "Replied offline", "act_promise": "Promise a date",
        "act_resolve": "Resolve", "act_close": "Close", "act_reassign": "Reassign", "act_dismiss": "No reply needed",
        "reply_note": "How and what was answered (phone, visit…)", "promise_date": "Completion date",
        "extend_reason": "Beyond {days} working days needs a reason", "reassign_to": "Reassign to",
        "suggested": "Suggested", "dismiss_reason": "Why no reply is needed", "done": "Done: {action}",
        "not_allowed": "Not allowed.", "urgent": "Urgent", "historical": "History", "follow_up": "Follow-up of",
        "readonly": "Auditors are read-only.", "lang_other": "中文", "post": "Post", "none": "None", "by": "By",
        "unknown_unit": "No unit “{name}”.", "bad_date": "Give the date as 2026-12-20.",
    },
}


#: what a flag event (FlagEvent.kind) is called on its page
EVENT_NAMES: Mapping[str, Mapping[str, str]] = {
    "zh": {"created": "生成", "acknowledged": "受理", "replied": "回复", "resolved": "办结", "closed": "办结销号",
           "dismissed": "不需回复", "reassigned": "转办", "promised": "承诺办结日期", "reminder": "催办",
           "escalated": "督办", "notice": "通报", "stale": "长期未回复", "reopened": "重新打开",
           "history": "历史留言"},
    "en": {"created": "Raised", "acknowledged": "Acknowledged", "replied": "Replied", "resolved": "Resolved",
           "closed": "Closed", "dismissed": "No reply needed", "reassigned": "Reassigned", "promised": "Date promised",
           "reminder": "Reminder", "escalated": "Escalated", "notice": "Public notice", "stale": "Stale",
           "reopened": "Reopened", "history": "History"},
}


def event_name(kind: str, locale: str) -> str:
    return EVENT_NAMES["en" if locale == "en" else "zh"].get(kind, kind)


def words(locale: str) -> Mapping[str, str]:
    return WORDS[locale if locale in WORDS else "zh"]


def state_name(state: str, locale: str) -> str:
    return (_EN_STATES if locale == "en" else STATE_NAMES).get(state, state)


def category_name(category: str, locale: str) -> str:
    return (_EN_CATEGORIES if locale == "en" else CATEGORY_NAMES).get(category, category)
