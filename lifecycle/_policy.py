"""Which failures recovery retries, and when: a retry policy by error class."""

from __future__ import annotations

from dataclasses import dataclass, field

TRANSIENT_NAMES = frozenset({
    "TimeoutError", "ConnectionError", "DatabaseLockedError", "RateLimitError", "APITimeoutError",
    "APIConnectionError", "InternalServerError", "ServiceUnavailableError", "ReadTimeout", "ConnectTimeout",
})


@dataclass(frozen=True)
class RetryPolicy:
    """Transient errors are retried with exponential backoff up to ``max_attempts``; others are permanent.

    An error is transient when it says so (a ``transient`` attribute, as ModelProviderError
    has), when it is an instance of ``transient``, or when its class (or a base class) is
    named in ``transient_names`` — names, so a stored error type can be classified after a
    restart without importing the library that raised it.
    """

    max_attempts: int = 5
    """Runs of one turn in total, the first included."""
    base_delay_s: float = 1.0
    """Wait before the first retry; doubled for each later one."""
    max_delay_s: float = 60.0
    """Cap on the wait."""
    transient: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError)
    transient_names: frozenset[str] = field(default=TRANSIENT_NAMES)

    def is_transient(self, error: BaseException) -> bool:
        flag = getattr(error, "transient", None)
        if isinstance(flag, bool):
            return flag
        if isinstance(error, self.transient):
            return True
        return any(cls.__name__ in self.transient_names for cls in type(error).__mro__)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) before the next."""
        return min(self.max_delay_s, self.base_delay_s * (2 ** max(0, attempt - 1)))
