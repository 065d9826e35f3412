"""The retry policy: how often and how long :class:`~usagekit.client.CdnClient` retries one request.

A :class:`RetryPolicy` is a value you can pass around (``CdnClient(account, retry=RetryPolicy(...))``);
the client asks it how long to wait before each retry, honouring the service's ``x-acs-retry-after``
(milliseconds, read by :func:`retry_after_seconds`). Which failures may be retried at all is the
client's decision (a ``Create*`` that may have run is never repeated), not the policy's.

>>> RetryPolicy(max_attempts=3, base=0.5)
RetryPolicy(max_attempts=3, base=0.5, cap=20.0, deadline=180.0)
>>> retry_after_seconds("250")
0.25
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from usagekit.errors import ArgumentError

__all__ = ["RetryPolicy", "retry_after_seconds"]

_shared_random = random.Random()  # backoff jitter, not cryptography


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long :class:`~usagekit.client.CdnClient` retries one request.

    ``max_attempts`` bounds the attempts (1 disables retries), ``deadline`` the seconds from the first
    attempt after which no further wait is started. The wait before retry ``n`` (0 for the first retry) is
    exponential backoff with full jitter, ``uniform(0, min(cap, base * 2**n))``; when the service sent
    ``x-acs-retry-after`` the wait is at least that (bounded by ``cap``). ``rng`` makes the jitter
    reproducible in tests.

    >>> policy = RetryPolicy(rng=random.Random(7))
    >>> 0.0 <= policy.wait(0) <= 0.2
    True
    >>> policy.wait(0, retry_after=1.5)
    1.5
    >>> policy.wait(40, retry_after=60.0)
    20.0
    >>> RetryPolicy(max_attempts=1)
    RetryPolicy(max_attempts=1, base=0.2, cap=20.0, deadline=180.0)
    """

    max_attempts: int = 10
    base: float = 0.2
    cap: float = 20.0
    deadline: float = 180.0
    rng: random.Random | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ArgumentError(
                f"RetryPolicy.max_attempts must be a whole number of at least 1, not {attempts!r}"
            )
        for name in ("base", "cap", "deadline"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ArgumentError(f"RetryPolicy.{name} must be a number of seconds >= 0, not {value!r}")
        if self.rng is not None and not isinstance(self.rng, random.Random):
            raise ArgumentError(
                f"RetryPolicy.rng must be a random.Random or None, not {type(self.rng).__name__}"
            )

    def backoff(self, attempt: int) -> float:
        """The jittered exponential wait before retry ``attempt`` (0-based), ignoring any retry-after.

        >>> RetryPolicy(base=1.0, cap=3.0, rng=random.Random(1)).backoff(10) <= 3.0
        True
        """
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 64))
        return (self.rng or _shared_random).uniform(0.0, ceiling)

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based), honouring ``retry_after`` (seconds).

        >>> RetryPolicy(rng=random.Random(0)).wait(2, retry_after=0.0) <= 0.8
        True
        """
        delay = self.backoff(attempt)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.cap))
        return delay


def retry_after_seconds(value: str | None) -> float | None:
    """``x-acs-retry-after`` (milliseconds, as the official SDKs read it) in seconds; ``None`` if unusable.

    >>> retry_after_seconds("1500")
    1.5
    >>> retry_after_seconds("soon") is None, retry_after_seconds("-5") is None
    (True, True)
    """
    if value is None:
        return None
    try:
        milliseconds = float(value.strip())
    except ValueError:
        return None
    if milliseconds != milliseconds or milliseconds < 0:  # NaN or negative
        return None
    return milliseconds / 1000.0
