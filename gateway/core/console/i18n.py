"""The console's words in Chinese (the default) and English (`?lang=`/the switch in the
header, kept in a cookie). One table: a key missing in a language is shown as the key, and
`tests/test_console.py` checks both languages have the same keys."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("zh", "en")
DEFAULT = "zh"

# key: (Chinese, English)
WORDS: dict[str, tuple[str, str]] = {
    "app": ("海关 EDI 网关 · 运维控制台", "Customs EDI gateway · ops console"),
    "dashboard": ("仪表盘", "Dashboard"),
    "returned": ("退单", "Returned"),
    "signing": ("加签失败", "Signing failures"),
    "failures": ("格式/入库失败", "Format/storage failures"),
    "dead_letters": ("死信", "Dead letters"),
    "receipts": ("未匹配回执", "Unmatched receipts"),
    "audit": ("操作记录", "Audit log"),
    "records": ("单证", "Records"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "user": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong user name or password"),
    "login_throttled": (
        "失败次数过多，请 {seconds} 秒后再试",
        "Too many failures: try again in {seconds} s",
    ),
    "session_expired": ("请重新登录", "Please log in again"),
    "zone": ("北京时间 (UTC+8)", "Beijing time (UTC+8)"),
    "now": ("当前时间", "Now"),
    "refreshing": ("每 {seconds} 秒自动刷新", "Refreshes every {seconds} s"),
    "counts": ("各业务系统单证状态", "Records by system and status"),
    "system": ("业务系统", "System"),
    "status": ("状态", "Status"),
    "count": ("数量", "Count"),
    "total": ("合计", "Total"),
    "no_records": ("暂无单证", "No records yet"),
    "oldest_in_flight": ("最久未推进的在途单证", "Oldest in-flight record"),
    "none": ("无", "none"),
    "age": ("已等待", "Waiting for"),
    "queues": ("队列", "Queues"),
    "queue": ("队列", "Queue"),
    "ready": ("待处理", "Ready"),
    "consumers": ("消费者", "Consumers"),
    "dead": ("死信", "Dead"),
    "broker_down": ("无法连接消息队列：{error}", "Broker not reachable: {error}"),
    "outbox": ("待发件箱", "Outbox backlog"),
    "outbox_unsent": ("未发布", "Unpublished"),
    "oldest": ("最早", "Oldest"),
    "last_receipt": ("距最近一次海关回执", "Since the last customs receipt"),
    "never": ("从未收到", "never received"),
    "silence_alarm": (
        "回执静默告警：有单证在等待海关，但 {minutes} 分钟内未收到回执",
        "Silence alarm: records wait on customs and no receipt came for {minutes} min",
    ),
    "cards": ("IC 卡", "IC cards"),
    "enterprise": ("企业", "Enterprise"),
    "card": ("卡号", "Card"),
    "reader": ("读卡器", "Reader"),
    "present": ("在位", "Present"),
    "valid_until": ("有效期至", "Valid until"),
    "days_left": ("剩余天数", "Days left"),
    "problem": ("问题", "Problem"),
    "no_cards": ("没有企业使用 IC 卡加签", "No enterprise signs with a card"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "receipts_kept": ("待处理回执", "Receipts kept for ops"),
    "unmatched": ("未匹配", "Unmatched"),
    "unreadable": ("无法解析", "Unreadable"),
    "worklists": ("待办", "Work lists"),
    "panel_error": ("无法读取：{error}", "Not available: {error}"),
    "nothing": ("无待办事项", "Nothing to do"),
    "id": ("编号", "Id"),
    "kind": ("类型", "Kind"),
    "business_key": ("业务编号", "Business key"),
    "reason": ("原因", "Reason"),
    "customs_reason": ("海关退单原因", "Customs' reason"),
    "updated": ("更新时间", "Updated"),
    "created": ("创建时间", "Created"),
    "message": ("报文", "Message"),
    "error": ("错误", "Error"),
    "attempts": ("尝试次数", "Attempts"),
    "retry": ("重新加签", "Retry signing"),
    "retried": ("报文 {id} 已重新排队加签", "Message {id} queued for signing again"),
    "not_retried": (
        "报文 {id} 不在加签失败状态，未改变",
        "Message {id} is not in signing_failed: unchanged",
    ),
    "replay": ("重放", "Replay"),
    "discard": ("丢弃", "Discard"),
    "replay_selected": ("重放所选", "Replay selected"),
    "discard_selected": ("丢弃所选", "Discard selected"),
    "replay_all": ("全部重放", "Replay all"),
    "discard_all": ("全部丢弃", "Discard all"),
    "confirm": ("确认", "Confirm"),
    "cancel": ("取消", "Cancel"),
    "confirm_replay": (
        "确认将以下死信重放回队列 {queue}？",
        "Replay these dead letters into queue {queue}?",
    ),
    "confirm_discard": (
        "确认永久丢弃以下死信（不可恢复）？",
        "Discard these dead letters for good (cannot be undone)?",
    ),
    "all_letters": ("队列 {queue} 中的全部死信", "Every dead letter of queue {queue}"),
    "done_replayed": ("已重放：{n}", "Replayed: {n}"),
    "done_discarded": ("已丢弃：{n}", "Discarded: {n}"),
    "missing": ("未找到：{ids}", "Not found: {ids}"),
    "refused": ("拒绝重放（来源不是该队列）：{ids}", "Refused (did not die in this queue): {ids}"),
    "choose_letters": ("请选择死信", "Choose dead letters"),
    "died_at": ("死亡时间", "Died at"),
    "deaths": ("次数", "Deaths"),
    "origin": ("来源", "Origin"),
    "body": ("内容", "Body"),
    "received": ("接收时间", "Received"),
    "msg_type": ("报文类型", "Message type"),
    "record": ("单证", "Record"),
    "history": ("状态历史", "History"),
    "versions": ("版本", "Versions"),
    "version": ("版本", "Version"),
    "downloads": ("下载", "Downloads"),
    "original": ("原始报文", "Original"),
    "signed": ("加签报文", "Signed"),
    "envelope": ("信封", "Envelope"),
    "xml": (
        "报文内容（格式化显示；下载为原始字节）",
        "XML (pretty-printed; downloads are the exact bytes)",
    ),
    "source": ("来源", "Source"),
    "not_applied": ("未应用", "not applied"),
    "pre_no": ("预录入号", "Pre-entry no."),
    "customs_numbers": ("海关编号", "Customs numbers"),
    "find": ("查找单证（编号或业务编号）", "Find a record (id or business key)"),
    "search": ("查找", "Find"),
    "actor": ("操作人", "Who"),
    "action": ("操作", "Action"),
    "target": ("对象", "Target"),
    "outcome": ("结果", "Outcome"),
    "at": ("时间", "At"),
    "detail": ("详情", "Detail"),
    "csrf": ("表单已过期，请重试", "The form has expired: try again"),
    "not_found": ("未找到", "Not found"),
    "back": ("返回", "Back"),
    "state": ("状态", "State"),
    "page": ("第 {page} 页，共 {total} 条", "Page {page}, {total} in all"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "webhooks": ("Webhook 死信", "Webhook dead letters"),
    "language": ("English", "中文"),
    "event": ("事件", "Event"),
    "wh_pending": ("待投递", "Pending"),
    "wh_delivered": ("已投递", "Delivered"),
    "wh_dead": ("投递失败", "Dead"),
    "confirm_wh_replay": (
        "确认重新投递以下 Webhook？（重试次数从零算起）",
        "Post these webhook deliveries again (their tries counted afresh)?",
    ),
    "wh_refused": ("不是投递失败状态，未重放：{ids}", "Not dead, not replayed: {ids}"),
    "alerts": ("告警", "Alerts"),
    "no_alerts": ("无告警", "No alert holds"),
    "alerts_error": ("告警无法评估：{error}", "Alerts not evaluated: {error}"),
}

#: the core's statuses in Chinese (a system's own are shown by their code)
STATUS_ZH = {
    "saved": "暂存",
    "pending_sign": "待加签",
    "signing_failed": "加签失败",
    "signed": "已加签",
    "sent": "已发送",
    "send_failed": "发送失败",
    "eport_saved": "电子口岸已暂存",
    "declaring": "电子口岸申报中",
    "sent_to_customs": "发送海关成功",
    "customs_send_failed": "发送海关失败",
    "returned": "海关退单",
    "stored": "海关入库",
    "manual_review": "人工审核",
    "concluded": "审结",
    "inspection": "查验",
    "handed_over": "查验交接",
    "suspended": "挂起",
    "released": "放行",
    "closed": "结关",
    "store_failed": "海关入库失败",
    "format_failed": "格式校验失败",
    "security_failed": "安全校验失败",
    "deleted": "已删除",
}


def language(value: str | None) -> str:
    return value if value in LANGS else DEFAULT


def translator(lang: str) -> Callable[..., str]:
    index = LANGS.index(language(lang))

    def t(key: str, **values: object) -> str:
        words = WORDS.get(key)
        text = words[index] if words else key
        return text.format(**values) if values else text

    return t


def status_label(lang: str, status: str) -> str:
    if language(lang) == "zh" and status in STATUS_ZH:
        return f"{STATUS_ZH[status]} ({status})"
    return status
