"""The exception tree: every error usagekit raises is a :class:`UsagekitError`.

::

    UsagekitError
    ├── ArgumentError                 a call's own argument is wrong, found before any request (also a ValueError)
    │   ├── TimeValueError            a time or month argument that is not one (see ``usagekit.times``)
    │   ├── CommandLineError          a wrong command line (a flag, a value, a path): exit code 2
    │   └── PriceTableError           a price table that cannot be used
    ├── ConfigurationError            a profile or credentials file that cannot be used
    ├── ReportError                   the billing report could not be written
    ├── MissingExtraError             an optional package is not installed: the message names the extra
    ├── TransportError                the request never got an answer (connection, TLS, timeout)
    │   └── MayHaveRunError           a state-changing call whose outcome is unknown: list before retrying
    ├── ResponseError                 an answer that is not the API's JSON (an HTML page, broken JSON)
    ├── ApiError                      the API answered with an error code
    │   ├── ThrottledError            Throttling, Throttling.User, any reply with x-acs-retry-after
    │   ├── AuthenticationError       signature, access key, STS token, timestamp, nonce problems
    │   ├── InvalidParameterError     the request's parameters were refused
    │   ├── PermissionDeniedError     OperationDenied: CDN not opened, suspended, no RAM permission
    │   └── ServiceUnavailableError   ServiceUnavailable, InternalError, HTTP 5xx
    ├── IncompleteListingError        a listing that could not be completed (never a short frame)
    ├── ExportsFailedError            some exports of one ``usage()`` call failed; every other one is cached
    ├── DownloadError                 an export file could not be fetched whole
    │   └── UrlExpiredError           its presigned URL has expired: list the task again
    ├── TaskStateError                a task is not in the state the operation needs (not ``success``)
    │   └── WaitTimeoutError          ``wait`` gave up: tasks still running at its timeout (also a TimeoutError)
    └── ReadError                     an export file could not be read
        ├── CorruptDataError          a stored file that fails its check (SHA-256, size, page checksums)
        ├── FileFormatError           not the format expected: an HTML page, a PDF given as a workbook, a corrupted file
        ├── UnrecognizedLayoutError   a workbook whose columns cannot be mapped: pass ``mapping=``
        └── UnsafeFileError           a file refused for safety (e.g. a zip bomb)

Every warning usagekit gives is a :class:`UsagekitWarning` (also a ``UserWarning``), so
``warnings.filterwarnings("ignore", category=UsagekitWarning)`` silences them all.

Every error carries what a user needs to act (API code, HTTP status, request id, account name,
file path) and never a secret: no access key secret, STS token, signature or presigned URL query
appears in any message.

Example:
    >>> try:
    ...     raise ThrottledError("Throttling", "Request was denied due to flow control.",
    ...                         status=503, request_id="4F1C", action="DescribeUserUsageDataExportTask",
    ...                         account="prod")
    ... except UsagekitError as error:
    ...     print(error)
    Throttling (HTTP 503) from DescribeUserUsageDataExportTask for account 'prod': Request was denied due to flow control. [request id 4F1C]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "ArgumentError",
    "AuthenticationError",
    "CacheWarning",
    "CommandLineError",
    "ConfigurationError",
    "ConfigurationWarning",
    "CorruptDataError",
    "DownloadError",
    "DuplicateAccountWarning",
    "ExportsFailedError",
    "FileFormatError",
    "IncompleteListingError",
    "InvalidParameterError",
    "MayHaveRunError",
    "MissingExtraError",
    "OverlapWarning",
    "PermissionDeniedError",
    "PriceTableError",
    "ReadError",
    "ReportError",
    "ResponseError",
    "ServiceUnavailableError",
    "SkippedTasksWarning",
    "StatusFilterWarning",
    "TaskStateError",
    "ThrottledError",
    "TimeRangeWarning",
    "TimeValueError",
    "TransportError",
    "UnrecognizedLayoutError",
    "UnsafeFileError",
    "UrlExpiredError",
    "UsagekitError",
    "UsagekitWarning",
    "WaitTimeoutError",
    "error_for",
]


class UsagekitError(Exception):
    """Base of every error usagekit raises: ``except UsagekitError`` catches them all."""


class ArgumentError(UsagekitError, ValueError):
    """An argument of the call is wrong (``kind="sumary"``, a window of 40 days): found locally, before
    any request, so never an :class:`ApiError` (the service refused nothing). Also a :class:`ValueError`.

    ``account`` and ``action`` are set when the call concerned one.
    """

    def __init__(self, message: str, *, account: str | None = None, action: str | None = None) -> None:
        self.account = account
        self.action = action
        super().__init__(message)


class TimeValueError(ArgumentError):
    """A time or month argument that is not one by the one rule of :mod:`usagekit.times`."""


class CommandLineError(ArgumentError):
    """The command line itself is wrong (a flag, a value, a path): exit code 2, before any work."""


class PriceTableError(ArgumentError):
    """A price table usagekit cannot use; the message names the rows and what to fix."""


class ReportError(UsagekitError):
    """The billing report could not be written; the message says what was missing or which cell failed."""


class ConfigurationError(UsagekitError):
    """A profile, credentials file or setting that cannot be used as it is.

    ``path`` and ``line`` name where the problem is (never the secret found there).
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class MissingExtraError(UsagekitError, ImportError):
    """A feature's optional package is missing; ``extra`` names what to install (``usagekit[extra]``).

    Also an :class:`ImportError`, so code that guards optional imports keeps working.
    """

    def __init__(self, message: str, *, extra: str) -> None:
        self.extra = extra
        super().__init__(message)


class TransportError(UsagekitError):
    """The request got no usable answer: connection refused or dropped, TLS failure, timeout.

    The message and the cause chain carry URLs without their query strings.
    """

    def __init__(self, message: str, *, action: str | None = None, account: str | None = None) -> None:
        self.action = action
        self.account = account
        super().__init__(message)


class MayHaveRunError(TransportError):
    """A call that changes state (``Create*``, ``Delete*``) may or may not have run.

    Do not blindly repeat it: list the tasks to find out (``create_export`` does that for you).
    """


class ResponseError(UsagekitError):
    """The reply is not the API's JSON: an HTML page from a proxy, truncated or invalid JSON.

    ``snippet`` quotes the first bytes received; ``request_id`` is set when one could be found.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        snippet: str = "",
        request_id: str | None = None,
        action: str | None = None,
        account: str | None = None,
    ) -> None:
        self.status = status
        self.snippet = snippet
        self.request_id = request_id
        self.action = action
        self.account = account
        text = message
        if snippet:
            text += f"; the reply began with {snippet!r}"
        if request_id:
            text += f" [request id {request_id}]"
        super().__init__(text)


class ApiError(UsagekitError):
    """The API answered with an error ``code`` (``SignatureDoesNotMatch``, ``Throttling``, ...)."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int | None = None,
        request_id: str | None = None,
        action: str | None = None,
        account: str | None = None,
        recommend: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.action = action
        self.account = account
        self.recommend = recommend
        #: seconds the service asked to wait (``x-acs-retry-after`` is sent in milliseconds)
        self.retry_after = retry_after
        text = code
        if status is not None:
            text += f" (HTTP {status})"
        if action:
            text += f" from {action}"
        if account:
            text += f" for account {account!r}"
        if message:
            text += f": {message}"
        if request_id:
            text += f" [request id {request_id}]"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:  # keep keyword fields across pickling (executors)
        return (_rebuild_api_error, (type(self), self.code, self.message, self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "request_id": self.request_id,
            "action": self.action,
            "account": self.account,
            "recommend": self.recommend,
            "retry_after": self.retry_after,
        }


def _rebuild_api_error(cls: type[ApiError], code: str, message: str, fields: dict[str, Any]) -> ApiError:
    return cls(code, message, **fields)


class ThrottledError(ApiError):
    """The service asked us to slow down (``Throttling``, ``Throttling.User``, ``x-acs-retry-after``)."""


class AuthenticationError(ApiError):
    """The request's identity was refused: signature, access key id, STS token, timestamp or nonce."""


class InvalidParameterError(ApiError):
    """A parameter was missing or refused (``InvalidParameter``, ``InvalidTimeRange``, ...)."""


class PermissionDeniedError(ApiError):
    """``OperationDenied`` and friends: CDN not opened or suspended, or the RAM user lacks permission."""


class ServiceUnavailableError(ApiError):
    """``ServiceUnavailable``, ``InternalError`` or a bare HTTP 5xx: usually worth retrying later."""


class IncompleteListingError(UsagekitError):
    """A listing could not be completed; it is never returned short.

    ``frame`` holds what was fetched (a task frame), ``pages`` the page numbers that failed.
    """

    def __init__(
        self,
        message: str,
        *,
        account: str | None = None,
        kind: str | None = None,
        pages: tuple[int, ...] = (),
        frame: Any = None,
    ) -> None:
        self.account = account
        self.kind = kind
        self.pages = tuple(pages)
        self.frame = frame
        super().__init__(message)


class ExportsFailedError(UsagekitError):
    """Some exports of one :func:`usagekit.usage` call could not be fetched or read; raised once every
    other export has finished and is cached (a second call reads those from the cache). ``failures`` holds
    one record per failed export: ``account``, ``task_id``, ``error`` (the error's type) and ``message``,
    plain text.
    """

    def __init__(self, message: str, *, failures: tuple[Mapping[str, str], ...] = ()) -> None:
        self.failures = tuple(dict(f) for f in failures)
        super().__init__(message)


class DownloadError(UsagekitError):
    """An export file could not be fetched whole; nothing was left in the cache."""

    def __init__(self, message: str, *, task_id: str | None = None, account: str | None = None) -> None:
        self.task_id = task_id
        self.account = account
        super().__init__(message)


class UrlExpiredError(DownloadError):
    """The presigned download URL has expired (HTTP 403 ``AccessDenied``): list the task again."""


class TaskStateError(UsagekitError):
    """The task is not in the state the operation needs (for example not ``success`` for ``fetch``)."""


class WaitTimeoutError(TaskStateError, TimeoutError):
    """``wait`` timed out with tasks still running; ``task_ids`` names them (``except TimeoutError`` works too)."""

    def __init__(self, message: str, *, task_ids: tuple[str, ...] = ()) -> None:
        self.task_ids = tuple(task_ids)
        super().__init__(message)


class ReadError(UsagekitError):
    """An export file could not be read: not the format it claims, corrupted or truncated."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class CorruptDataError(ReadError):
    """A stored file that fails its check: not the SHA-256 or size recorded when it was written, or a
    page whose checksum does not match. ``path`` names the file; nothing is read from it.
    """


class FileFormatError(ReadError):
    """The file is not what the reader expects: an HTML error page, a PDF given to ``read_usage``,
    a corrupted or truncated workbook. ``detected`` names what its first bytes say it is
    (``html``, ``pdf``, ``xlsx``, ``xls``, ``text``, ``empty``, ``unknown``).
    """

    def __init__(self, message: str, *, path: str | None = None, detected: str | None = None) -> None:
        self.detected = detected
        super().__init__(message, path=path)


class UnrecognizedLayoutError(ReadError):
    """A workbook whose header or columns could not be recognised.

    ``sheet`` and ``headers`` say what was seen; pass ``mapping=`` to ``read_usage`` to map them.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        sheet: str | None = None,
        headers: tuple[str, ...] = (),
    ) -> None:
        self.sheet = sheet
        self.headers = tuple(headers)
        super().__init__(message, path=path)


class UnsafeFileError(ReadError):
    """A file refused for safety, such as a zip bomb whose declared size is out of proportion."""


# --- warnings ------------------------------------------------------------------------------------------


class UsagekitWarning(UserWarning):
    """Base of every warning usagekit gives: ``category=UsagekitWarning`` filters them all."""


class ConfigurationWarning(UsagekitWarning):
    """A profile or credentials file left out, or readable by others: usable, but look at it."""


class CacheWarning(UsagekitWarning, RuntimeWarning):
    """A cache folder tightened to mode 0700, or a parsed file that could not be kept."""


class DuplicateAccountWarning(UsagekitWarning):
    """Several accounts given hold the same access key id (one account to the service): listed once."""


class StatusFilterWarning(UsagekitWarning):
    """A ``status=`` value that is neither a known status nor met in the listing (a typo?)."""


class TimeRangeWarning(UsagekitWarning):
    """A task time the service sent that pandas cannot hold (year 9999, year 1): NaT in the frame."""


class OverlapWarning(UsagekitWarning):
    """Exports overlapped: intervals held twice were counted once, totals split (see ``attrs["overlaps"]``)."""


class SkippedTasksWarning(UsagekitWarning):
    """``usage()`` left out detail exports that are not ``success`` (they have no file yet, or never will)."""


# --- mapping API error codes onto the tree -----------------------------------------------------------

_AUTH_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "InvalidAccessKeyId",
        "SignatureNonceUsed",
        "InvalidTimeStamp.Expired",
        "InvalidTimeStamp.Format",
        "InvalidSecurityToken.Expired",
        "InvalidSecurityToken.Malformed",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "MissingSecurityToken",
    }
)
_THROTTLE_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "Throttling.API"})
_UNAVAILABLE_CODES = frozenset({"ServiceUnavailable", "InternalError", "ServiceUnavailableTemporary"})
_DENIED_CODES = frozenset({"OperationDenied", "Forbidden.RAM", "Forbidden", "OperationDenied.Suspended"})


def error_for(code: str, status: int | None, headers: Mapping[str, str] | None = None) -> type[ApiError]:
    """Choose the :class:`ApiError` subclass for an API error ``code`` and HTTP ``status``.

    A reply carrying ``x-acs-retry-after`` is throttling whatever its code, as the official SDKs treat it.

    >>> error_for("Throttling.User", 503).__name__
    'ThrottledError'
    >>> error_for("InvalidStartTime.Malformed", 400).__name__
    'InvalidParameterError'
    """
    if headers is not None and any(k.lower() == "x-acs-retry-after" for k in headers):
        return ThrottledError
    if code in _THROTTLE_CODES or code.startswith("Throttling"):
        return ThrottledError
    if code in _AUTH_CODES or code.startswith(("InvalidSecurityToken", "InvalidAccessKeyId", "Signature")):
        return AuthenticationError
    if code in _DENIED_CODES or code.startswith("Forbidden"):
        return PermissionDeniedError
    if code in _UNAVAILABLE_CODES:
        return ServiceUnavailableError
    if code.startswith(("Invalid", "Missing", "MissingParameter")) or code.endswith(".Malformed"):
        return InvalidParameterError
    if status is not None and status >= 500:
        return ServiceUnavailableError
    return ApiError
