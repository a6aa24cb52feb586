"""Keys, marks and their kinds: the values every store holds and the ledger reasons about."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, get_args

from pydantic import SecretStr

#: The ``model`` of a key that stands for the whole account.
ACCOUNT_WIDE = "*"

#: Longest ``reason`` kept; server messages are short, this only bounds what a store holds.
MAX_REASON_LENGTH = 500

MarkKind = Literal["daily", "monthly", "points", "throttle", "retired", "other"]
"""What a mark is, because each kind ends differently:

* ``daily`` / ``monthly``: a counter quota with a known reset (00:00 UTC+8, the 1st);
* ``points``: a spent points balance, with no clock: it ends when it is lifted after a check
  of the free balance endpoint shows points again;
* ``throttle``: an escalating cooldown after "We have to rate limit you", cleared by a success;
* ``retired``: a model the service no longer serves, parked for a long time (a day);
* ``other``: anything whose end the caller knows only as a time (a cooldown, an auth failure,
  a mark written before marks had kinds).
"""

#: Every :data:`MarkKind`, in a stable order.
MARK_KINDS: tuple[str, ...] = get_args(MarkKind)

_FINGERPRINT_NAMESPACE = b"langchain-modelscope/quota-account/v1\x00"
_FINGERPRINT_LENGTH = 12
#: ModelScope tokens are "ms-" + a UUID, older ones a bare UUID: such a value is a token, not
#: a fingerprint, and must never reach a store (nor a log line: the ledger scrubs it).
TOKEN_LIKE = re.compile(
    r"\b(ms-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MICROSECOND = timedelta(microseconds=1)


def account_fingerprint(token: str | SecretStr) -> str:
    """A short, stable, non-reversible id for the account behind ``token``.

    Quota marks are keyed by account, but a token must never be stored or shown, so the key
    holds this hash instead (12 hex digits of a namespaced SHA-256: enough to tell a user's
    accounts apart, useless for recovering the token).
    """
    if isinstance(token, SecretStr):
        token = token.get_secret_value()
    if not isinstance(token, str):
        raise TypeError(
            f"account_fingerprint() takes the API token as str or pydantic.SecretStr, "
            f"got {type(token).__name__}"
        )
    token = token.strip()
    if not token:
        raise ValueError("account_fingerprint() got an empty token: pass the ModelScope API token")
    digest = hashlib.sha256(_FINGERPRINT_NAMESPACE + token.encode("utf-8")).hexdigest()
    return digest[:_FINGERPRINT_LENGTH]


def require_text(owner: str, field: str, value: object) -> None:
    """A typed error unless ``value`` is a non-blank str."""
    if not isinstance(value, str):
        raise TypeError(f"{owner}.{field} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{owner}.{field} must be a non-empty string")


def as_utc(value: object, what: str) -> datetime:
    """Check that ``value`` is an aware datetime and return it in UTC."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} is a naive datetime: pass an aware one, "
            f"e.g. datetime.now(timezone.utc) or dt.replace(tzinfo=timezone.utc)"
        )
    return value.astimezone(timezone.utc)


def check_kind(kind: object) -> MarkKind:
    """``kind`` if it is a :data:`MarkKind`, else a typed error naming the allowed ones."""
    if not isinstance(kind, str):
        raise TypeError(f"a mark's kind must be a str, got {type(kind).__name__}")
    if kind not in MARK_KINDS:
        raise ValueError(f"unknown mark kind {kind!r}: use one of {', '.join(MARK_KINDS)}")
    return kind  # type: ignore[return-value]  # checked against the Literal's values above


def to_micros(value: datetime) -> int:
    """Microseconds since 1970 (UTC): how every store keeps times, exact and sortable."""
    return (value - _EPOCH) // _ONE_MICROSECOND


def from_micros(value: int) -> datetime:
    """The aware UTC datetime of :func:`to_micros`."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class QuotaKey:
    """What a quota mark applies to: one model of one account, or the whole account (``"*"``).

    ``account`` is an :func:`account_fingerprint`, never the token itself.
    """

    provider: str
    account: str
    model: str

    def __post_init__(self) -> None:
        for field in ("provider", "account", "model"):
            require_text("QuotaKey", field, getattr(self, field))
        if self.account == ACCOUNT_WIDE:
            raise ValueError('QuotaKey.account cannot be "*": use account_fingerprint(token)')
        if TOKEN_LIKE.fullmatch(self.account.strip()):
            # Deliberately does not echo the value: it is most likely a secret.
            raise ValueError(
                "QuotaKey.account looks like an API token; pass account_fingerprint(token) "
                "instead so that the token is never stored"
            )

    @classmethod
    def for_token(
        cls, token: str | SecretStr, model: str = ACCOUNT_WIDE, *, provider: str = "modelscope"
    ) -> QuotaKey:
        """The key for ``model`` (default: the whole account) of the account behind ``token``."""
        return cls(provider=provider, account=account_fingerprint(token), model=model)

    @property
    def is_account_wide(self) -> bool:
        """True for the key that stands for every model of the account."""
        return self.model == ACCOUNT_WIDE

    def account_wide(self) -> QuotaKey:
        """The ``"*"`` key of the same provider and account."""
        if self.is_account_wide:
            return self
        return QuotaKey(self.provider, self.account, ACCOUNT_WIDE)

    def claim_name(self, purpose: str) -> str:
        """A :meth:`QuotaLedger.claim` name for ``purpose`` (e.g. ``"probe"``) on this key."""
        require_text("QuotaKey.claim_name", "purpose", purpose)
        return f"{purpose}\x1f{self.provider}\x1f{self.account}\x1f{self.model}"


@dataclass(frozen=True)
class QuotaEntry:
    """A mark: ``key`` is blocked until ``until`` (aware, UTC), why, and what kind of mark.

    ``keep_until`` (default: ``until``) is when a store may forget the mark: a throttle mark
    is kept past its cooldown so that a failed probe escalates it instead of starting over.
    ``strikes`` counts throttles in a row (1 for the first); other kinds keep 0.
    """

    key: QuotaKey
    until: datetime
    reason: str | None
    recorded_at: datetime
    kind: MarkKind = "other"
    strikes: int = 0
    keep_until: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, QuotaKey):
            raise TypeError(f"QuotaEntry.key must be a QuotaKey, got {type(self.key).__name__}")
        until = as_utc(self.until, "QuotaEntry.until")
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "recorded_at", as_utc(self.recorded_at, "QuotaEntry.recorded_at"))
        object.__setattr__(self, "kind", check_kind(self.kind))
        if isinstance(self.strikes, bool) or not isinstance(self.strikes, int):
            raise TypeError(f"QuotaEntry.strikes must be an int, got {type(self.strikes).__name__}")
        if self.strikes < 0:
            raise ValueError(f"QuotaEntry.strikes must not be negative, got {self.strikes}")
        keep = self.keep_until
        keep = until if keep is None else max(as_utc(keep, "QuotaEntry.keep_until"), until)
        object.__setattr__(self, "keep_until", keep)
        if self.reason is not None:
            if not isinstance(self.reason, str):
                raise TypeError(
                    f"QuotaEntry.reason must be a str or None, got {type(self.reason).__name__}"
                )
            if len(self.reason) > MAX_REASON_LENGTH:
                object.__setattr__(self, "reason", self.reason[: MAX_REASON_LENGTH - 1] + "…")

    @property
    def scope(self) -> str:
        """``"account"`` for an account-wide mark, ``"model"`` otherwise."""
        return "account" if self.key.is_account_wide else "model"

    @property
    def has_clock(self) -> bool:
        """False for a points mark: its ``until`` is only a safety horizon, not a reset time."""
        return self.kind != "points"

    @property
    def forget_at(self) -> datetime:
        """When a store may drop the mark (``keep_until``, never before ``until``)."""
        assert self.keep_until is not None  # set in __post_init__
        return self.keep_until

    def is_active(self, now: datetime) -> bool:
        """Whether the mark is still in force at ``now`` (it lifts exactly at ``until``)."""
        return self.until > as_utc(now, "now")
