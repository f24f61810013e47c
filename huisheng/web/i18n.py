"""The workbench's words, Chinese first.  A template asks ``t("key")``; the
domain's words (states, categories, levels, event kinds) come from
:mod:`huisheng.vocabulary`."""

from __future__ import annotations

from typing import Mapping

from huisheng.vocabulary import Category, EventKind, FlagState, LadderStep, UnitLevel

LOCALES = ("zh", "en")

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
        "in_all": "共 {total} 条", "flag": "需回复", "on_platform": "在平台上查看", "platform_state": "平台上的办理状态", "thread": "对话",
        "owner_reply": "本单位回复", "reasons": "判定依据", "routing": "分派", "clock": "时钟",
        "started": "开始", "deadline": "期限", "first_reply": "首次回复", "remaining": "剩余 {hours} 工作小时", "remaining_clock": "剩余 {hours} 小时",
        "overdue": "已超期", "uncertain": "期限所在年份的节假日安排未录入，期限按兜底规则估算",
        "ladder": "督办", "promised": "承诺办结", "events": "记录", "actions": "操作", "note": "说明",
        "act_ack": "受理", "act_reply": "线下已回复", "act_promise": "承诺办结日期", "act_resolve": "办结",
        "act_close": "办结销号", "act_reassign": "转办", "act_dismiss": "不需回复",
        "reply_note": "如何答复的（电话、走访……）与答复内容", "promise_date": "办结日期",
        "extend_reason": "超过 {days} 个工作日须说明理由", "reassign_to": "转办给", "suggested": "建议",
        "dismiss_reason": "不需回复的理由", "done": "已完成：{action}", "not_allowed": "无权操作。",
        "urgent": "紧急", "historical": "历史", "follow_up": "追问，前一条", "readonly": "考评员只读，不能操作。",
        "lang_other": "English", "post": "博文", "none": "无", "by": "操作人",
        "unknown_unit": "未找到单位“{name}”。", "bad_date": "日期格式应为 2026-12-20。",
        # the audit pages (考评)
        "audit_coverage": "回复率", "audit_compliance": "账号合规", "audit_overdue": "超期未回复",
        "audit_ranking": "考评排名", "audit_health": "账号状态", "group_by": "按", "month": "月份",
        "period_from": "起始日", "period_to": "截止日", "this_month": "本月", "last_month": "上月",
        "last_12": "近 12 个月", "with_history": "计入历史留言", "show": "查看", "export_csv": "导出 CSV",
        "export_xlsx": "导出 Excel", "own": "本级", "with_subs": "含下级", "total": "合计", "trend": "趋势",
        "scope_all": "全区", "no_data": "无数据", "check_day": "检查日",
        "level": "层级", "all_levels": "各层级", "min_flags": "最少需回复", "ladder_step": "督办进度",
        "failing_accounts": "读取失败或从未读取成功的账号", "unread_threads": "评论未能读全的帖子",
        "failing": "读取失败", "never_read": "从未读取成功", "thread_comments": "帖子的评论",
        "thread_replies": "{author} 的评论下的回复", "listed": "共 {total} 条，本页 {shown} 条；完整列表请导出",
        "coverage_note": "{period}所写留言中的需回复，按{by}统计；已驳回不计入分母，线下回复不计为回复；{history}",
        "history_in": "历史留言计入各项", "history_out": "历史留言（监测开始前所写）不计入分母，单列于“历史”",
        "drill_note": "点击单位名称或图中的条形查看其下级单位；“含下级”的一行合计该单位及其全部下级。",
        "compliance_note": "检查日 {day}（当日零时检查）：{veto} 天无原创为单项否决，{warn} 天预警；超过 {stale} 天"
                           "未回复为长期未回复；无法读取的账号（从未读取成功，或检查时读取失败）不作判定。",
        "overdue_note": "截至 {time} 超期未回复的需回复（历史留言不计）。",
        "ranking_note": "{month} 考评排名：各层级单位分别排名，先比按时回复率（高者在前），再比首次回复用时中位数"
                        "(工作小时)（短者在前）；需回复少于 {min} 条的单位列于其后，不排名。",
        "health_note": "截至 {time}：{failing} 个账号读取失败，{never} 个从未读取成功；{threads} 个帖子的评论未能读全"
                       "（系统自动重试，一天以上的标出）。",
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
        "on_platform": "Open on the platform", "platform_state": "State on the platform", "thread": "Thread", "owner_reply": "Our reply",
        "reasons": "Why flagged", "routing": "Routing", "clock": "Clock", "started": "Started",
        "deadline": "Deadline", "first_reply": "First reply", "remaining": "{hours} working hours left",
        "remaining_clock": "{hours} hours left",
        "overdue": "Overdue", "uncertain": "the holiday arrangement of the deadline's year is not configured; "
                                           "the deadline is an estimate",
        "ladder": "Escalation", "promised": "Promised", "events": "History", "actions": "Actions", "note": "Note",
        "act_ack": "Acknowledge", "act_reply": "Replied offline", "act_promise": "Promise a date",
        "act_resolve": "Resolve", "act_close": "Close", "act_reassign": "Reassign", "act_dismiss": "No reply needed",
        "reply_note": "How and what was answered (phone, visit…)", "promise_date": "Completion date",
        "extend_reason": "Beyond {days} working days needs a reason", "reassign_to": "Reassign to",
        "suggested": "Suggested", "dismiss_reason": "Why no reply is needed", "done": "Done: {action}",
        "not_allowed": "Not allowed.", "urgent": "Urgent", "historical": "History", "follow_up": "Follow-up of",
        "readonly": "Auditors are read-only.", "lang_other": "中文", "post": "Post", "none": "None", "by": "By",
        "unknown_unit": "No unit “{name}”.", "bad_date": "Give the date as 2026-12-20.",
        # the audit pages
        "audit_coverage": "Coverage", "audit_compliance": "Compliance", "audit_overdue": "Overdue",
        "audit_ranking": "Ranking", "audit_health": "Account health", "group_by": "By", "month": "Month",
        "period_from": "From", "period_to": "To", "this_month": "This month", "last_month": "Last month",
        "last_12": "Last 12 months", "with_history": "Count historical flags", "show": "Show",
        "export_csv": "Export CSV", "export_xlsx": "Export Excel", "own": "own", "with_subs": "with subordinates",
        "total": "Total", "trend": "Trend", "scope_all": "District",
        "no_data": "No data", "check_day": "Check day", "level": "Level", "all_levels": "Every level",
        "ladder_step": "Ladder step",
        "min_flags": "Min. flags", "failing_accounts": "Accounts failing or never read",
        "unread_threads": "Threads not read in full", "failing": "failing", "never_read": "never read",
        "thread_comments": "comments on the post", "thread_replies": "replies under {author}'s comment",
        "listed": "{total} in all, {shown} on this page; export for the full list",
        "coverage_note": "Flags of comments written {period}, by {by}; dismissed flags are outside the "
                         "denominators, an offline reply is not a reply; {history}.",
        "history_in": "historical flags counted in",
        "history_out": "historical flags (written before monitoring began) outside the denominators",
        "drill_note": "Click a unit's name or its bars for its subordinate units; a row “with subordinates” "
                      "counts the unit and all units under it.",
        "compliance_note": "Check day {day} (checked at midnight): {veto} days without an original post fail "
                           "(veto), {warn} warn; unanswered over {stale} days is stale; accounts huisheng could "
                           "not read (never read, or failing at the check) are not judged.",
        "overdue_note": "Flags unanswered past their deadline as of {time} (historical flags not listed).",
        "ranking_note": "{month} ranking within each level by on-time coverage, then median first-reply "
                        "working time; units with fewer than {min} flags listed after, unranked.",
        "health_note": "As of {time}: {failing} accounts failing, {never} never read; {threads} threads not read "
                       "in full (retried automatically; those over a day marked).",
    },
}


def event_name(kind: str, locale: str) -> str:
    return EventKind.label_of(kind, locale)


def words(locale: str) -> Mapping[str, str]:
    return WORDS[locale if locale in WORDS else "zh"]


def state_name(state: str, locale: str) -> str:
    return FlagState.label_of(state, locale)


def category_name(category: str, locale: str) -> str:
    return Category.label_of(category, locale)


def level_name(level: str, locale: str) -> str:
    return UnitLevel.label_of(level, locale)


def step_name(step: str, locale: str) -> str:
    return LadderStep.label_of(step, locale)
