"""The API client: one CDN API call, signed, sent, retried and its reply mapped onto the error tree.

:class:`CdnClient` knows HTTP and signatures, nothing of pandas or of export tasks. ``call`` returns the
decoded JSON of a successful reply, or raises from :mod:`usagekit.errors`:

* :class:`~usagekit.errors.ApiError` (and subclasses) when the API answered with an error code;
* :class:`~usagekit.errors.ResponseError` when the reply is not the API's JSON (an HTML page, broken JSON);
* :class:`~usagekit.errors.TransportError` when no answer came (refused, dropped, timed out);
* :class:`~usagekit.errors.MayHaveRunError` when a ``Create*`` / ``Delete*`` call may have run although no
  answer proves it (a timeout or dropped connection after sending, an ``InternalError`` or bare 5xx);
* :class:`~usagekit.errors.ConfigurationError` for an endpoint that cannot be used (plain ``http://`` to a
  remote host, a URL with a path or query), before any connection is made.

Retries happen here, per request, as a :class:`~usagekit.retry.RetryPolicy` says (its own module), with a
fresh signature (new nonce, new timestamp) for every attempt, and ``before_attempt`` (an account's rate
limiter) called before each. The wire itself (the endpoint, one POST, the capped reply) is
:mod:`usagekit.transport`. No secret, STS token, signature or URL query ever reaches a message, a log line or an
exception's cause chain: a failure is turned into our own error inside the ``except`` block but raised
outside it, so the chain holds only usagekit's errors, each with a sanitized description of what happened
(requests' own messages quote URLs); text the service sends back is masked for the secret and the token.

>>> from usagekit.accounts import Account
>>> client = CdnClient(Account("demo", "LTAIexample-0000KlMn", "secret"), endpoint="http://127.0.0.1:8080")
>>> client
CdnClient(account='demo', endpoint_url='http://127.0.0.1:8080')
>>> client.close()
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal

import requests
import urllib3

from usagekit.accounts import Account
from usagekit.errors import (
    ArgumentError,
    MayHaveRunError,
    ResponseError,
    ServiceUnavailableError,
    ThrottledError,
    TransportError,
    UsagekitError,
    error_for,
)
from usagekit.redact import MASK, redact
from usagekit.retry import RetryPolicy, retry_after_seconds
from usagekit.signing import acs3_authorization, percent_encode, rpc_signature, sha256_hex
from usagekit.times import API_TIME_FORMAT
from usagekit.transport import (
    MAX_REPLY_BYTES,
    Reply,
    Transport,
    TransportCause,
    chain,
    describe,
    never_sent,
    resolve_endpoint,
)
from usagekit.version import package_version

__all__ = [
    "API_VERSION",
    "DEFAULT_ENDPOINT",
    "MAX_REPLY_BYTES",
    "PRODUCT",
    "CdnClient",
    "RetryPolicy",
    "TransportCause",
]

PRODUCT = "Cdn"
API_VERSION = "2018-05-10"
DEFAULT_ENDPOINT = "cdn.aliyuncs.com"

logger = logging.getLogger("usagekit.client")

_EMPTY_BODY_SHA256 = sha256_hex(b"")
_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
#: codes whose reply proves the call did not run, so even ``Create*`` / ``Delete*`` may be repeated
_NOT_RUN_CODES = frozenset({"ServiceUnavailable", "ServiceUnavailableTemporary"})
_V2_COMMON = frozenset(
    {
        "Action",
        "Version",
        "Format",
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "SecurityToken",
        "Signature",
    }
)
_SNIPPET_BYTES = 200
#: a reply is masked over this many bytes before its snippet is cut (masking first, then cutting)
_SCRUB_BYTES = 65536
_REQUEST_ID_RE = re.compile(r'"RequestId"\s*:\s*"([^"\\]{1,128})"')
_ACTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


@dataclass
class _Failure:
    """One failed attempt: the error to raise if no retry follows, and whether a retry is allowed."""

    error: UsagekitError
    retry: bool
    retry_after: float | None = None
    label: str = ""
    #: a sanitized copy of the requests/urllib3 cause chain (see :class:`TransportCause`)
    cause: BaseException | None = None


class CdnClient:
    """A client for the CDN API (product ``Cdn``, version ``2018-05-10``) for one :class:`Account`.

    ``endpoint`` (else ``account.endpoint``, else ``cdn.aliyuncs.com``) is a host name, HTTPS implied, or
    a full URL such as ``http://127.0.0.1:8080``. Plain ``http://`` is refused unless the host is a
    loopback address or ``allow_insecure=True``. ``signature`` is ``"v3"`` (ACS3-HMAC-SHA256, parameters in
    the query string) or ``"v2"`` (HMAC-SHA1, everything in a form-encoded body, nothing in the URL).
    ``timeout`` is ``(connect, read)`` seconds per attempt; ``retry`` a :class:`RetryPolicy`; ``sleep`` and
    ``clock`` are injectable so tests never really wait. ``before_attempt`` is called before every attempt,
    the first and each retry: give it a rate limiter's ``acquire`` so that retries under throttling take
    their tokens too (the listing's shared clients carry their account's bucket, see :mod:`usagekit.pool`).
    One ``requests.Session`` is reused (pass your own, or let the client create one that :meth:`close`
    closes). A client may be shared by threads.

    >>> from usagekit.accounts import Account
    >>> with CdnClient(Account("prod", "LTAIexample-0000KlMn", "secret"), signature="v2") as client:
    ...     client.endpoint_url
    'https://cdn.aliyuncs.com'
    >>> CdnClient(Account("prod", "LTAIexample-0000KlMn", "secret"), endpoint="http://example.com")
    Traceback (most recent call last):
    ...
    usagekit.errors.ConfigurationError: plain http:// to example.com would send signed requests unencrypted; use https://, or pass allow_insecure=True for a trusted network
    """

    #: the API version every request names (a subclass for another product sets its own)
    api_version: str = API_VERSION
    #: the host used when neither ``endpoint`` nor the account names one
    default_endpoint: str = DEFAULT_ENDPOINT
    #: how JSON numbers with a fraction are read (``decimal.Decimal`` keeps money exact); ``None``: float
    parse_float: Callable[[str], Any] | None = None

    def __init__(
        self,
        account: Account,
        *,
        endpoint: str | None = None,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        signature: Literal["v2", "v3"] = "v3",
        allow_insecure: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        before_attempt: Callable[[], None] | None = None,
    ) -> None:
        _check_arguments(account, endpoint, session, timeout, retry, signature, allow_insecure, sleep, clock)
        self._account = account
        self._signature = signature
        chosen = endpoint or self.account_endpoint(account) or self.default_endpoint
        self._endpoint_url, self._host, loopback = resolve_endpoint(chosen, allow_insecure=allow_insecure)
        self._url = self._endpoint_url + "/"
        self._retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self.before_attempt = before_attempt
        self._service_time: datetime | None = None
        self._transport = Transport(self._endpoint_url, loopback=loopback, session=session, timeout=timeout)
        self._user_agent = f"usagekit/{package_version()} {requests.utils.default_user_agent()}"
        self._secrets = _secret_forms(account)

    # --- the public surface -------------------------------------------------------------------------

    @staticmethod
    def account_endpoint(account: Account) -> str | None:
        """The endpoint ``account`` names for this product (``Account.endpoint`` for the CDN API)."""
        return account.endpoint

    @property
    def account(self) -> Account:
        """The :class:`Account` whose credentials sign every call."""
        return self._account

    @property
    def endpoint_url(self) -> str:
        """The scheme and host the client talks to, e.g. ``https://cdn.aliyuncs.com``."""
        return self._endpoint_url

    @property
    def retry(self) -> RetryPolicy:
        """The :class:`RetryPolicy` in force."""
        return self._retry

    @property
    def service_time(self) -> datetime | None:
        """The service's time by the latest reply's ``Date`` header (aware UTC, whole seconds); ``None``
        before any reply. A sandbox sends its own time there, frozen or not: listings take it as their
        ``listed_at``, so the current time comes from the service, not this machine."""
        return self._service_time

    @property
    def before_attempt(self) -> Callable[[], None] | None:
        """What is called before every attempt (e.g. a rate limiter's ``acquire``), or ``None``."""
        return self._before_attempt

    @before_attempt.setter
    def before_attempt(self, hook: Callable[[], None] | None) -> None:
        if hook is not None and not callable(hook):
            raise ArgumentError(f"before_attempt must be callable or None, not {type(hook).__name__}")
        self._before_attempt = hook

    def call(self, action: str, **params: object) -> dict[str, Any]:
        """Call API ``action`` with ``params`` and return the decoded JSON reply.

        Parameter values are sent as text; ``None`` values are left out. Retries follow the policy;
        ``Create*`` / ``Delete*`` calls are repeated only when the reply proves they did not run.
        ``before_attempt`` (when set) runs before each attempt, after any backoff wait.

        >>> from usagekit.accounts import Account
        >>> CdnClient(Account("a", "LTAIexample-0000KlMn", "s")).call("Describe Tasks")
        Traceback (most recent call last):
        ...
        usagekit.errors.ArgumentError: an API action is a name such as 'DescribeUserUsageDataExportTask', not 'Describe Tasks'
        """
        if not isinstance(action, str) or not _ACTION_RE.match(action):
            raise ArgumentError(
                f"an API action is a name such as 'DescribeUserUsageDataExportTask', not {action!r}"
            )
        values = _text_params(params)
        changes_state = action.startswith(("Create", "Delete"))
        started = self._clock()
        attempt = 0
        while True:
            if self._before_attempt is not None:
                self._before_attempt()
            outcome = self._attempt(action, values, changes_state)
            attempt += 1
            if not isinstance(outcome, _Failure):
                return outcome
            if not outcome.retry or attempt >= self._retry.max_attempts:
                break
            delay = self._retry.wait(attempt - 1, outcome.retry_after)
            elapsed = self._clock() - started
            if elapsed + delay > self._retry.deadline:
                outcome.error.add_note(
                    f"gave up after {attempt} attempt(s): waiting {delay:.2f} s more would pass the "
                    f"{self._retry.deadline:g} s retry deadline"
                )
                raise self._with_cause(outcome)
            logger.debug(
                "retrying %s for account %r: attempt %d failed with %s; waiting %.3f s",
                action,
                self._account.name,
                attempt,
                outcome.label,
                delay,
            )
            self._sleep(delay)
        if outcome.retry:
            outcome.error.add_note(f"gave up after {attempt} attempt(s) (RetryPolicy.max_attempts)")
        # Raised outside any ``except`` block, from a sanitized copy of the cause chain: the traceback
        # shows every underlying error, none of them the original objects, which quote URLs.
        raise self._with_cause(outcome)

    def close(self) -> None:
        """Close the client's own connections (a session passed in stays the caller's)."""
        self._transport.close()

    def __enter__(self) -> CdnClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        shown = f"account={self._account.name!r}, endpoint_url={self._endpoint_url!r}"
        if self._signature != "v3":
            shown += f", signature={self._signature!r}"
        return f"{type(self).__name__}({shown})"

    # --- one attempt --------------------------------------------------------------------------------

    def _attempt(self, action: str, params: dict[str, str], changes_state: bool) -> dict[str, Any] | _Failure:
        """Sign and send once; return the reply's JSON or a :class:`_Failure`, never raising."""
        if self._signature == "v3":
            url, headers, body = self._sign_v3(action, params)
        else:
            url, headers, body = self._sign_v2(action, params)
        failure: _Failure
        try:
            reply = self._transport.post(url, headers, body)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # Built here, raised by ``call`` outside this block, so no exception chain holds ``exc``.
            failure = self._transport_failure(exc, action, changes_state)
        else:
            self._note_date(reply.headers)
            if reply.body is None:
                return self._too_large(reply, action, changes_state)
            return self._interpret(reply.status, reply.headers, reply.body, action, changes_state)
        return failure

    def _note_date(self, headers: Mapping[str, str]) -> None:
        text = headers.get("Date") or headers.get("date")
        if not text:
            return
        try:
            sent = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):  # a proxy's malformed Date: keep the last good one
            return
        if sent.tzinfo is not None:
            self._service_time = sent.astimezone(UTC)

    def _too_large(self, reply: Reply, action: str, changes_state: bool) -> _Failure:
        status = reply.status
        error = ResponseError(
            f"{action} for account {self._account.name!r} got a reply larger than {MAX_REPLY_BYTES} bytes "
            f"(HTTP {status}) from {self._endpoint_url}; it was not read",
            status=status,
            request_id=self._scrub(reply.headers.get("x-acs-request-id") or "") or None,
            action=action,
            account=self._account.name,
        )
        if changes_state:
            return _Failure(
                self._may_have_run(action, f"HTTP {status} with an oversized reply", error), retry=False
            )
        return _Failure(error, retry=False)

    def _common_date_nonce(self) -> tuple[str, str]:
        return datetime.now(UTC).strftime(API_TIME_FORMAT), uuid.uuid4().hex

    def _sign_v3(self, action: str, params: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
        date, nonce = self._common_date_nonce()
        signed = {
            "host": self._host,
            "x-acs-action": action,
            "x-acs-version": self.api_version,
            "x-acs-date": date,
            "x-acs-signature-nonce": nonce,
            "x-acs-content-sha256": _EMPTY_BODY_SHA256,
        }
        if self._account.security_token is not None:
            signed["x-acs-security-token"] = self._account.security_token
        authorization = acs3_authorization(
            "POST", "/", params, signed, self._account.access_key_id, self._account.access_key_secret
        )
        headers = {
            **signed,
            "authorization": authorization,
            "accept": "application/json",
            "user-agent": self._user_agent,
        }
        query = _encode_pairs(params)
        return (self._url + "?" + query if query else self._url), headers, b""

    def _sign_v2(self, action: str, params: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
        date, nonce = self._common_date_nonce()
        form = {
            **params,
            "Action": action,
            "Version": self.api_version,
            "Format": "JSON",
            "AccessKeyId": self._account.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce,
            "Timestamp": date,
        }
        if self._account.security_token is not None:
            form["SecurityToken"] = self._account.security_token
        form["Signature"] = rpc_signature(form, "POST", self._account.access_key_secret)
        headers = {
            "accept": "application/json",
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": self._user_agent,
        }
        return self._url, headers, _encode_pairs(form).encode("ascii")

    # --- turning replies and failures into results ---------------------------------------------------

    def _interpret(
        self, status: int, headers: Mapping[str, str], raw: bytes, action: str, changes_state: bool
    ) -> dict[str, Any] | _Failure:
        try:
            data = json.loads(raw, parse_float=self.parse_float) if raw.strip() else None
        except ValueError:  # invalid JSON or undecodable bytes
            data = None
        retry_after = retry_after_seconds(headers.get("x-acs-retry-after"))
        if 200 <= status < 300 and isinstance(data, dict):
            return data
        if status >= 400 and isinstance(data, dict) and isinstance(data.get("Code"), str) and data["Code"]:
            return self._api_failure(data, status, headers, retry_after, action, changes_state)
        request_id = headers.get("x-acs-request-id") or _find_request_id(raw)
        what = "an empty reply" if not raw.strip() else "a reply that is not the API's JSON"
        if isinstance(data, dict | list) and status < 400:
            what = "JSON without the expected shape"
        elif isinstance(data, dict | list):
            what = "an error reply without an error code"
        error = ResponseError(
            f"{action} for account {self._account.name!r} got {what} (HTTP {status}) from {self._endpoint_url}",
            status=status,
            snippet=self._scrub(raw[:_SCRUB_BYTES].decode("utf-8", errors="replace"), limit=_SNIPPET_BYTES),
            request_id=self._scrub(request_id) if request_id else None,
            action=action,
            account=self._account.name,
        )
        if (
            retry_after is not None and status >= 400
        ):  # the gateway's throttling, as the official SDKs read it
            return _Failure(
                error, retry=True, retry_after=retry_after, label=f"HTTP {status} with retry-after"
            )
        if changes_state and (status < 400 or status in _RETRYABLE_STATUSES):
            # A success without the API's JSON, or a gateway's error page: nothing proves the call did not run.
            return _Failure(self._may_have_run(action, f"HTTP {status} with {what}", error), retry=False)
        if status not in _RETRYABLE_STATUSES:
            return _Failure(error, retry=False)
        return _Failure(error, retry=True, retry_after=retry_after, label=f"HTTP {status}")

    def _api_failure(
        self,
        data: Mapping[str, Any],
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        action: str,
        changes_state: bool,
    ) -> _Failure:
        code = str(data["Code"])
        request_id = data.get("RequestId") or headers.get("x-acs-request-id")
        recommend = data.get("Recommend")
        cls = error_for(code, status, headers)
        error = cls(
            self._scrub(code),
            self._scrub(str(data.get("Message") or "")),
            status=status,
            request_id=self._scrub(str(request_id)) if request_id else None,
            action=action,
            account=self._account.name,
            recommend=self._mask(str(recommend)) if recommend else None,  # a diagnosis link: keep its query
            retry_after=retry_after,
        )
        label = f"{code} (HTTP {status})"
        if isinstance(error, ThrottledError) or code in _NOT_RUN_CODES:
            return _Failure(error, retry=True, retry_after=retry_after, label=label)
        if isinstance(error, ServiceUnavailableError) or status in _RETRYABLE_STATUSES:
            if changes_state:
                return _Failure(self._may_have_run(action, label, error), retry=False)
            return _Failure(error, retry=True, retry_after=retry_after, label=label)
        return _Failure(error, retry=False)

    def _may_have_run(self, action: str, what: str, cause: UsagekitError) -> MayHaveRunError:
        error = MayHaveRunError(
            f"{action} for account {self._account.name!r} may have run: {what}; "
            "list the tasks to find out before retrying",
            action=action,
            account=self._account.name,
        )
        error.__cause__ = cause
        return error

    def _transport_failure(self, exc: BaseException, action: str, changes_state: bool) -> _Failure:
        failure = self._classify_transport_failure(exc, action, changes_state)
        failure.cause = self._sanitized_chain(exc)
        return failure

    @staticmethod
    def _with_cause(outcome: _Failure) -> UsagekitError:
        """The error to raise, chained to the sanitized transport causes when there are any."""
        if outcome.cause is not None:
            outcome.error.__cause__ = outcome.cause
        return outcome.error

    def _sanitized_chain(self, exc: BaseException) -> TransportCause | None:
        """A :class:`TransportCause` per error in ``exc``'s chain (outermost first), queries and secrets out."""
        head: TransportCause | None = None
        for item in reversed(chain(exc)):
            kind = type(item)
            cause = TransportCause(f"{kind.__module__}.{kind.__qualname__}: {self._scrub(str(item))}")
            cause.__cause__ = head
            head = cause
        return head

    def _classify_transport_failure(self, exc: BaseException, action: str, changes_state: bool) -> _Failure:
        description = self._scrub(describe(exc))
        name = self._account.name
        if isinstance(exc, requests.exceptions.SSLError):
            message = f"{action} for account {name!r}: TLS failed with {self._endpoint_url} ({description})"
            return _Failure(TransportError(message, action=action, account=name), retry=False)
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidHeader):
            message = f"{action} for account {name!r}: the request could not be built ({description})"
            return _Failure(TransportError(message, action=action, account=name), retry=False)
        if any(isinstance(item, urllib3.exceptions.NameResolutionError) for item in chain(exc)):
            message = (
                f"{action} for account {name!r}: could not resolve the host of {self._endpoint_url}; "
                f"check the endpoint and the network ({description})"
            )
            return _Failure(TransportError(message, action=action, account=name), retry=False)
        if never_sent(exc):
            message = (
                f"{action} for account {name!r}: could not connect to {self._endpoint_url} ({description})"
            )
            return _Failure(
                TransportError(message, action=action, account=name), retry=True, label="no connection"
            )
        timed_out = isinstance(exc, requests.Timeout | TimeoutError)
        what = "timed out" if timed_out else "the connection was dropped"
        label = "timeout" if timed_out else "dropped connection"
        if changes_state:
            error = MayHaveRunError(
                f"{action} for account {name!r} may have run: {what} after the request was sent to "
                f"{self._endpoint_url} ({description}); list the tasks to find out before retrying",
                action=action,
                account=name,
            )
            return _Failure(error, retry=False)
        message = f"{action} for account {name!r}: {what} talking to {self._endpoint_url} ({description})"
        return _Failure(TransportError(message, action=action, account=name), retry=True, label=label)

    def _scrub(self, text: str, limit: int | None = None) -> str:
        """``text`` with URL queries, signing fields and any form of the secret or token masked, then cut."""
        return redact(text, self._secrets, limit=limit)

    def _mask(self, text: str) -> str:
        """``text`` with the secret and the token masked, raw or percent-encoded once or twice."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


# --- helpers ------------------------------------------------------------------------------------------


def _check_arguments(
    account: object,
    endpoint: object,
    session: object,
    timeout: object,
    retry: object,
    signature: object,
    allow_insecure: object,
    sleep: object,
    clock: object,
) -> None:
    """CdnClient's arguments, each an :class:`ArgumentError` naming it when wrong."""
    if not isinstance(account, Account):
        raise ArgumentError(f"CdnClient needs an Account, not {type(account).__name__}")
    if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.strip()):
        raise ArgumentError(f"endpoint must be a host name or URL, or None, not {endpoint!r}")
    if session is not None and not isinstance(session, requests.Session):
        raise ArgumentError(f"session must be a requests.Session or None, not {type(session).__name__}")
    parts = timeout if isinstance(timeout, tuple) and len(timeout) == 2 else (timeout,)
    if not all(_seconds(part) for part in parts):
        raise ArgumentError(f"timeout must be seconds > 0 or a (connect, read) pair of them, not {timeout!r}")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ArgumentError(f"retry must be a RetryPolicy or None, not {type(retry).__name__}")
    if signature not in ("v2", "v3"):
        raise ArgumentError(f"signature must be 'v2' or 'v3', not {signature!r}")
    if not isinstance(allow_insecure, bool):
        raise ArgumentError(f"allow_insecure must be True or False, not {allow_insecure!r}")
    for name, value in (("sleep", sleep), ("clock", clock)):
        if not callable(value):
            raise ArgumentError(f"{name} must be callable, not {type(value).__name__}")


def _seconds(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0 and value == value


def _text_params(params: Mapping[str, object]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in params.items():
        if name in _V2_COMMON:
            raise ArgumentError(f"{name!r} is set by the client itself; leave it out of the parameters")
        if value is None:
            continue
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[name] = str(value)
        else:
            raise ArgumentError(
                f"parameter {name!r} must be text or a number, not {type(value).__name__}; join lists yourself"
            )
    return values


def _encode_pairs(pairs: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(pairs.items()))


def _secret_forms(account: Account) -> tuple[str, ...]:
    """Every spelling of the secret and token a message could carry (raw, encoded once and twice)."""
    forms: set[str] = set()
    for secret in (account.access_key_secret, account.security_token):
        if secret:
            once = percent_encode(secret)
            forms.update({secret, once, percent_encode(once)})
    return tuple(sorted(forms, key=len, reverse=True))


def _find_request_id(raw: bytes) -> str | None:
    match = _REQUEST_ID_RE.search(raw[:65536].decode("utf-8", errors="replace"))
    return match.group(1) if match else None
