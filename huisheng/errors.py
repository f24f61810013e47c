"""The one exception tree of huisheng.

Everything huisheng raises on purpose derives from :class:`HuishengError`.
Adapters raise only :class:`AdapterError` subclasses; the poller maps each to
an account's ``last_error_kind`` (the class's ``kind``) and a backoff.
"""

from __future__ import annotations


class HuishengError(Exception):
    """Base of every error huisheng raises on purpose."""


class ConfigError(HuishengError):
    """A configuration or matrix file is missing, malformed or invalid.

    ``file`` and ``key`` (a dotted key path) name where; ``line`` when the format
    allows.  ``str()`` gives one line an operator can act on.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None):
        self.file = file
        self.key = key
        self.line = line
        self.message = message
        where = file or "<config>"
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class ConfigErrors(ConfigError):
    """Several config errors at once; ``str()`` gives one line per error."""

    def __init__(self, errors: list[ConfigError]):
        # in file order: schema errors and cross-checks come out interleaved
        self.errors = tuple(sorted(errors, key=lambda e: (e.file or "", e.line or 0)))
        first = self.errors[0]
        super().__init__(first.message, file=first.file, key=first.key, line=first.line)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class StoreError(HuishengError):
    """The database refused something the store asked of it."""


class DatabaseUnavailable(HuishengError):
    """The database cannot be opened or written: a missing folder, no
    permission, a read-only file or disk, a server that does not answer.
    ``str()`` is one line naming the file (or the URL without its password)."""


# --- adapters -----------------------------------------------------------------


class AdapterError(HuishengError):
    """A platform fetch failed. ``kind`` is what ``status`` and digests show."""

    kind = "error"
    #: whether the whole platform (every account on this host) should slow down
    slows_platform = False

    def __init__(self, message: str = "", *, endpoint: str | None = None):
        self.endpoint = endpoint
        text = message or self.__class__.__doc__.strip().splitlines()[0]
        if endpoint:
            text = f"{endpoint}: {text}"
        super().__init__(text)


class Timeout(AdapterError):
    """The platform did not answer in time."""

    kind = "timeout"


class Cancelled(AdapterError):
    """The request was abandoned: the process is stopping."""

    kind = "cancelled"


class Network(AdapterError):
    """The connection failed (refused, reset, DNS)."""

    kind = "network"


class ServerError(AdapterError):
    """The platform answered with a 5xx status."""

    kind = "server_error"


class RateLimited(AdapterError):
    """The platform asks us to slow down (HTTP 429, or its own signal for it)."""

    kind = "rate_limited"
    slows_platform = True

    def __init__(self, message: str = "", *, endpoint: str | None = None,
                 retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message, endpoint=endpoint)


class Blocked(AdapterError):
    """The platform's risk control refuses us: back off, a cookie is needed."""

    kind = "blocked"
    slows_platform = True


class AuthRequired(AdapterError):
    """A login, captcha or visitor cookie is required; retrying will not help."""

    kind = "auth_required"


class NotFound(AdapterError):
    """The item or account does not exist (any more)."""

    kind = "not_found"


class Unsupported(AdapterError):
    """The platform (or its adapter) cannot do this.

    A listing it has no endpoint for (a platform without reply threads), a
    lookup it cannot make.  Not a failure: the poller skips what depends on
    it, concludes nothing from it (nothing is tombstoned on its account) and
    ``status`` shows it."""

    kind = "unsupported"


class ParseError(AdapterError):
    """A response had a shape the adapter does not understand.

    Names the endpoint and the field so an operator can compare with a saved
    response (``huisheng parse``).  Nothing of such a response is stored.
    """

    kind = "parse_error"

    def __init__(self, endpoint: str, field: str, message: str = ""):
        self.field = field
        detail = f"unexpected shape at field {field!r}"
        if message:
            detail += f": {message}"
        super().__init__(detail, endpoint=endpoint)


#: what an account's ``last_error_kind`` means, for district staff (zh) and in English
ERROR_KIND_NAMES = {
    "error": ("读取失败", "read failed"),
    "timeout": ("请求超时", "timed out"),
    "cancelled": ("请求被中止", "cancelled"),
    "network": ("网络连接失败", "network error"),
    "server_error": ("平台服务器错误", "platform server error"),
    "rate_limited": ("请求过于频繁，被平台限流", "rate limited"),
    "blocked": ("被平台风控拦截", "blocked by risk control"),
    "auth_required": ("需要登录或验证码", "login or captcha required"),
    "not_found": ("账号或内容不存在", "not found"),
    "parse_error": ("平台返回的数据无法识别", "unrecognised response"),
    "unsupported": ("平台不支持此功能", "not supported by the platform"),
    "crash": ("程序内部错误", "internal error"),
}


def error_kind_name(kind: str | None, lang: str = "zh") -> str:
    """An error kind in words (an unknown kind as itself)."""
    names = ERROR_KIND_NAMES.get(kind or "error")
    return (names[0] if lang == "zh" else names[1]) if names else str(kind)
