"""Guardrails, declared once: budgets, runaway breakers and approved-model catalogues.

Build a :class:`Policy` from :class:`Budget`, :class:`Breaker` and :class:`Catalogue` objects
(or write the same in a TOML file, ``OTEL_TOKENS_BUDGETS``) and pass it to
``otel_tokens.init(budgets=...)``. Every instrumented call is checked before its request is
sent; every invalid field raises :class:`~otel_tokens.ConfigurationError` naming the guardrail
and the field. The errors a blocking guardrail raises into your code are defined here too; all
derive from :class:`GuardrailError`, and none is raised unless you configured ``block`` (or a
callback returned it, or a budget store is down under ``fail_mode="closed"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from otel_tokens._errors import ConfigurationError
from otel_tokens._windows import WEEKDAYS, Window

ActionName = Literal["warn", "block", "downgrade"]
ACTIONS: tuple[str, ...] = ("warn", "block", "downgrade")
ON_UNPRICED: tuple[str, ...] = ("block", "estimate", "allow")
FAIL_MODES: tuple[str, ...] = ("open", "closed")
UNITS: tuple[str, ...] = ("USD", "token")
MATCH_FIELDS: tuple[str, ...] = ("provider", "model")
"""Match keys that are not tags: the call's ``gen_ai.provider.name`` and requested model."""
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.5, 0.8, 1.0)
DEFAULT_UNPRICED_RATES: tuple[float, float] = (15.0, 75.0)
"""USD per million input and output tokens charged for a model with no price under
``on_unpriced="estimate"``: a top-tier model's list price, so an unknown model cannot look cheap."""
DEFAULT_HOLD_SECONDS = 600.0
"""How long a reservation holds if the call never settles (a process that died mid-call)."""
DEFAULT_MAX_OUTPUT_TOKENS: Mapping[str, int] = {
    "claude-*opus*": 32_000,
    "claude-*": 64_000,
    "gpt-4o*": 16_384,
    "gpt-4.1*": 32_768,
    "gpt-5*": 128_000,
    "o1*": 100_000,
    "o3*": 100_000,
    "o4*": 100_000,
    "gemini-*": 65_536,
    "*": 8_192,
}
"""Output tokens a call may produce when the request sets no maximum, by model glob (first
match wins): the provider's documented ceiling for the family, so the reservation is a true
worst case. Override per policy with ``Policy(max_output_tokens=...)``."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_TAG_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


# -- what a blocking guardrail raises ----------------------------------------------------------


class GuardrailError(Exception):
    """A guardrail stopped a call before its request was sent. Catch this to handle all of them."""

    admission: Any = None
    """The guardrails' decision record (internal: the blocked call's span is written from it)."""


class BudgetExceededError(GuardrailError):
    """A ``block`` budget had no room for the call. Nothing was sent and nothing was charged."""

    def __init__(
        self,
        budget_id: str,
        *,
        limit: float,
        spent: float,
        reservation: float,
        unit: str,
        group: str,
        window: str,
        resets_at: datetime | None,
    ) -> None:
        self.budget_id, self.limit, self.spent, self.reservation = budget_id, limit, spent, reservation
        self.unit, self.group, self.window, self.resets_at = unit, group, window, resets_at
        amount = _amount(unit)
        where = f" for {group}" if group else ""
        if resets_at is not None:
            resets = f"the {window} window resets at {resets_at.isoformat()}"
        elif window.startswith("rolling"):
            resets = f"spend leaves the {window} window as it ages"
        else:
            resets = "its lifetime window never resets"
        super().__init__(
            f"budget {budget_id!r}{where} is exhausted: {amount(spent)} used (calls in flight included) "
            f"of {amount(limit)}, and this call may cost up to {amount(reservation)}; {resets}"
        )


class UnpricedModelError(GuardrailError):
    """A budget with ``on_unpriced="block"`` matched a call to a model with no known price."""

    def __init__(self, budget_id: str, provider: str, model: str | None) -> None:
        self.budget_id, self.provider, self.model = budget_id, provider, model
        super().__init__(
            f"budget {budget_id!r} cannot price model {model!r} of {provider!r} and its on_unpriced is "
            "'block'; add the model to the price override file or set on_unpriced to 'estimate'"
        )


class ModelNotApprovedError(GuardrailError):
    """A ``block`` catalogue does not approve the model the call asked for."""

    def __init__(self, catalogue_id: str, model: str | None, reason: str) -> None:
        self.catalogue_id, self.model, self.reason = catalogue_id, model, reason
        super().__init__(f"model {model!r} is not approved by catalogue {catalogue_id!r}: {reason}")


class BreakerOpenError(GuardrailError):
    """A ``block`` runaway breaker is open for the call's group."""

    def __init__(self, breaker_id: str, group: str, reason: str, until: float | None) -> None:
        self.breaker_id, self.group, self.reason, self.until = breaker_id, group, reason, until
        where = f" for {group}" if group else ""
        retry = (
            f"; it half-opens at {datetime.fromtimestamp(until).astimezone().isoformat()}" if until else ""
        )
        super().__init__(f"runaway breaker {breaker_id!r}{where} is open ({reason}){retry}")


class BudgetStoreUnavailableError(GuardrailError):
    """The budget store did not answer in time and a matching budget has ``fail_mode="closed"``."""

    def __init__(self, budget_id: str, reason: str) -> None:
        self.budget_id, self.reason = budget_id, reason
        super().__init__(
            f"budget {budget_id!r} cannot be checked (budget store {reason}) and its fail_mode is "
            "'closed', so the call was not sent"
        )


def _amount(unit: str) -> Callable[[float], str]:
    if unit == "token":
        return lambda value: f"{value:,.0f} tokens"
    return lambda value: f"{value:,.6f}".rstrip("0").rstrip(".") + " USD"


# -- actions and callbacks -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    """What to do with a call at a guardrail: ``warn``, ``block`` or ``downgrade`` to ``model``."""

    kind: ActionName
    model: str | None = None

    @staticmethod
    def warn() -> Action:
        return Action("warn")

    @staticmethod
    def block() -> Action:
        return Action("block")

    @staticmethod
    def downgrade(model: str) -> Action:
        return Action("downgrade", _text("Action.downgrade", "model", model))


@dataclass(frozen=True, slots=True)
class Decision:
    """What a guardrail found, as a callback receives it (the call has not been sent yet)."""

    kind: Literal["budget", "breaker", "catalogue"]
    id: str
    provider: str
    model: str | None
    tags: Mapping[str, str]
    reason: str
    """Budget: ``limit``; breaker: why it is open; catalogue: why the model is not approved."""
    limit: float | None = None
    spent: float | None = None
    reservation: float | None = None
    unit: str = "USD"
    resets_at: datetime | None = None


Callback = Callable[[Decision], Action | str | None]
"""Receives a :class:`Decision`; returns an :class:`Action`, ``"warn"``/``"block"``, or None (warn).
If it raises, the guardrail's ``fail_mode`` decides: ``open`` proceeds, ``closed`` blocks."""


# -- the guardrails ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Budget:
    """A spending cap: ``limit`` USD (or tokens, ``unit="token"``) per ``window``.

    ``match`` selects calls by business tags and ``provider``/``model`` (exact or glob, one value
    or several; empty matches every call). ``group_by`` keeps one counter per distinct value of
    those tag keys (one per team, say). ``limit=None`` counts without limiting; ``limit=0``
    blocks everything. ``window``: ``day``/``week``/``month``/``quarter`` (in ``timezone``,
    from ``reset_time`` on ``week_start``), ``rolling:1h``, ``fixed:15m`` or ``lifetime``.
    """

    id: str
    limit: float | None
    window: str = "month"
    unit: str = "USD"
    match: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    group_by: Sequence[str] = ()
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS
    action: str | Callback = "block"
    downgrade_to: str | None = None
    on_unpriced: str = "estimate"
    unpriced_rates: tuple[float, float] = DEFAULT_UNPRICED_RATES
    fail_mode: str = "open"
    timezone: str = "UTC"
    week_start: str = "monday"
    reset_time: str = "00:00"

    def __post_init__(self) -> None:
        where = _where("Budget", self.id)
        if self.limit is not None:
            object.__setattr__(self, "limit", _number(where, "limit", self.limit, minimum=0.0))
        _choice(where, "unit", self.unit, UNITS)
        _choice(where, "on_unpriced", self.on_unpriced, ON_UNPRICED)
        _choice(where, "fail_mode", self.fail_mode, FAIL_MODES)
        _check_action(where, self.action, self.downgrade_to)
        object.__setattr__(self, "match", _match(where, self.match))
        object.__setattr__(self, "group_by", _tag_keys(where, "group_by", self.group_by))
        object.__setattr__(self, "thresholds", _thresholds(where, self.thresholds))
        rates = self.unpriced_rates
        if not isinstance(rates, (tuple, list)) or len(rates) != 2:
            raise ConfigurationError(
                f"{where}: unpriced_rates must be (input, output) USD per million tokens"
            )
        object.__setattr__(
            self, "unpriced_rates", tuple(_number(where, "unpriced_rates", r, minimum=0.0) for r in rates)
        )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigurationError(
                f"{where}: timezone must be an IANA time zone such as 'Europe/Paris', got {self.timezone!r}"
            ) from None
        try:
            time.fromisoformat(self.reset_time)
        except (ValueError, TypeError):
            raise ConfigurationError(
                f'{where}: reset_time must be a time of day "HH:MM" (quoted in TOML), got {self.reset_time!r}'
            ) from None
        self.parsed_window()  # validates window and week_start

    def parsed_window(self) -> Window:
        where = _where("Budget", self.id)
        return Window.parse(
            f"{where}: window",
            self.window,
            zone=self.timezone,
            week_start=self.week_start,
            reset=self.reset_time,
        )


@dataclass(frozen=True, slots=True)
class Breaker:
    """A runaway-spend breaker per group: opens when spend or calls per minute pass a ceiling, or
    when per-minute spend stays ``deviations`` standard deviations above its usual level for
    ``consecutive_minutes``; then ``action`` applies for ``cooldown_seconds``, a few probe calls
    test the water (half-open), and it closes again."""

    id: str
    match: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    group_by: Sequence[str] = ()
    max_usd_per_minute: float | None = None
    max_calls_per_minute: int | None = None
    deviations: float | None = 4.0
    consecutive_minutes: int = 3
    baseline_minutes: int = 30
    smoothing: float = 0.1
    cooldown_seconds: float = 300.0
    probe_calls: int = 5
    action: str | Callback = "block"
    downgrade_to: str | None = None
    fail_mode: str = "open"

    def __post_init__(self) -> None:
        where = _where("Breaker", self.id)
        if self.max_usd_per_minute is not None:
            object.__setattr__(
                self,
                "max_usd_per_minute",
                _number(where, "max_usd_per_minute", self.max_usd_per_minute, minimum=0.0, strict=True),
            )
        if self.max_calls_per_minute is not None:
            _integer(where, "max_calls_per_minute", self.max_calls_per_minute, minimum=1)
        if self.deviations is not None:
            object.__setattr__(
                self, "deviations", _number(where, "deviations", self.deviations, minimum=0.0, strict=True)
            )
        if self.max_usd_per_minute is None and self.max_calls_per_minute is None and self.deviations is None:
            raise ConfigurationError(
                f"{where}: set max_usd_per_minute, max_calls_per_minute or deviations (nothing can trip it)"
            )
        _integer(where, "consecutive_minutes", self.consecutive_minutes, minimum=1)
        _integer(where, "baseline_minutes", self.baseline_minutes, minimum=1)
        object.__setattr__(
            self, "smoothing", _number(where, "smoothing", self.smoothing, minimum=0.0, strict=True)
        )
        if self.smoothing > 1:
            raise ConfigurationError(f"{where}: smoothing must be in (0, 1], got {self.smoothing:g}")
        object.__setattr__(
            self,
            "cooldown_seconds",
            _number(where, "cooldown_seconds", self.cooldown_seconds, minimum=0.0, strict=True),
        )
        _integer(where, "probe_calls", self.probe_calls, minimum=1)
        _choice(where, "fail_mode", self.fail_mode, FAIL_MODES)
        _check_action(where, self.action, self.downgrade_to)
        object.__setattr__(self, "match", _match(where, self.match))
        object.__setattr__(self, "group_by", _tag_keys(where, "group_by", self.group_by))


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The models calls matching ``match`` may use: ``models`` (globs; empty: any priced model),
    at most ``max_output_usd_per_million`` USD per million output tokens, and models with no
    price only when ``allow_unpriced``. Other models get ``action``."""

    id: str
    match: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    models: Sequence[str] = ()
    max_output_usd_per_million: float | None = None
    allow_unpriced: bool = False
    action: str | Callback = "block"
    downgrade_to: str | None = None
    fail_mode: str = "open"

    def __post_init__(self) -> None:
        where = _where("Catalogue", self.id)
        object.__setattr__(self, "match", _match(where, self.match))
        object.__setattr__(self, "models", _patterns(where, "models", self.models))
        if self.max_output_usd_per_million is not None:
            object.__setattr__(
                self,
                "max_output_usd_per_million",
                _number(where, "max_output_usd_per_million", self.max_output_usd_per_million, minimum=0.0),
            )
        if not isinstance(self.allow_unpriced, bool):
            raise ConfigurationError(
                f"{where}: allow_unpriced must be true or false, got {self.allow_unpriced!r}"
            )
        _choice(where, "fail_mode", self.fail_mode, FAIL_MODES)
        _check_action(where, self.action, self.downgrade_to)


Guardrail = Budget | Breaker | Catalogue


@dataclass(frozen=True, slots=True)
class Policy:
    """Every guardrail of a process, plus how reservations are estimated.

    ``max_output_tokens`` (model glob -> tokens, first match wins, before the built-in
    :data:`DEFAULT_MAX_OUTPUT_TOKENS`) is the output a call is assumed to produce when its
    request sets no maximum. ``hold_seconds`` bounds how long an unsettled reservation holds.
    ``source`` is the TOML file it was read from, if any (``otel_tokens.reload_budgets()``).
    """

    budgets: Sequence[Budget] = ()
    breakers: Sequence[Breaker] = ()
    catalogues: Sequence[Catalogue] = ()
    max_output_tokens: Mapping[str, int] = field(default_factory=dict)
    hold_seconds: float = DEFAULT_HOLD_SECONDS
    source: str | None = None

    def __post_init__(self) -> None:
        for name, kind in (("budgets", Budget), ("breakers", Breaker), ("catalogues", Catalogue)):
            items = tuple(getattr(self, name))
            for item in items:
                if not isinstance(item, kind):
                    raise ConfigurationError(f"Policy.{name} must hold {kind.__name__} objects, got {item!r}")
            object.__setattr__(self, name, items)
        ids = [g.id for g in (*self.budgets, *self.breakers, *self.catalogues)]  # type: ignore[attr-defined]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ConfigurationError(f"Policy: guardrail id(s) used more than once: {', '.join(repeated)}")
        limits = {}
        if not isinstance(self.max_output_tokens, Mapping):
            raise ConfigurationError(
                "Policy: max_output_tokens must be a mapping of model glob -> tokens, "
                f"got {self.max_output_tokens!r}"
            )
        for pattern, tokens in dict(self.max_output_tokens).items():
            _text("Policy", "max_output_tokens key", pattern)
            limits[pattern] = _integer("Policy", f"max_output_tokens[{pattern!r}]", tokens, minimum=1)
        object.__setattr__(self, "max_output_tokens", _Ordered(limits))
        object.__setattr__(
            self, "hold_seconds", _number("Policy", "hold_seconds", self.hold_seconds, minimum=1.0)
        )

    @classmethod
    def of(cls, value: Policy | Guardrail | Iterable[Guardrail]) -> Policy:
        """A policy from a policy, one guardrail or several."""
        if isinstance(value, Policy):
            return value
        items = [value] if isinstance(value, (Budget, Breaker, Catalogue)) else list(value)
        unknown = [i for i in items if not isinstance(i, (Budget, Breaker, Catalogue))]
        if unknown:
            raise ConfigurationError(
                f"budgets must be Budget, Breaker or Catalogue objects, got {unknown[0]!r}"
            )
        return cls(
            budgets=[i for i in items if isinstance(i, Budget)],
            breakers=[i for i in items if isinstance(i, Breaker)],
            catalogues=[i for i in items if isinstance(i, Catalogue)],
        )

    @property
    def empty(self) -> bool:
        return not (self.budgets or self.breakers or self.catalogues)


class _Frozen(dict[str, Any]):
    """A read-only, hashable mapping, so policies compare and hash as values (``init()`` twice)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=repr)))

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a policy is read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]


class _Ordered(_Frozen):
    """A :class:`_Frozen` whose order matters (first match wins), so equality compares it too."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, dict) and list(self.items()) == list(other.items())

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = _Frozen.__hash__


# -- validation -------------------------------------------------------------------------------


def _where(kind: str, ident: Any) -> str:
    if not isinstance(ident, str) or not _ID.match(ident):
        raise ConfigurationError(
            f"{kind} id must be 1-128 ASCII letters, digits, '_', '.', ':' or '-', "
            f"starting with a letter or digit, got {ident!r}"
        )
    return f"{kind} {ident!r}"


def _number(where: str, name: str, value: Any, *, minimum: float, strict: bool = False) -> float:
    try:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok or value < minimum or (strict and value == minimum):
        bound = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
        raise ConfigurationError(f"{where}: {name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _integer(where: str, name: str, value: Any, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigurationError(
            f"{where}: {name} must be a whole number of at least {minimum}, got {value!r}"
        )
    return value


def _text(where: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: {name} must be a non-empty string, got {value!r}")
    return value


def _choice(where: str, name: str, value: Any, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ConfigurationError(f"{where}: {name} must be one of {', '.join(accepted)}, got {value!r}")


def _check_action(where: str, action: Any, downgrade_to: Any) -> None:
    if callable(action):
        if downgrade_to is not None:
            _text(where, "downgrade_to", downgrade_to)
        return
    _choice(where, "action", action, ACTIONS)
    if action == "downgrade":
        _text(where, "downgrade_to (required by action 'downgrade')", downgrade_to)
    elif downgrade_to is not None:
        raise ConfigurationError(
            f"{where}: downgrade_to is only used with action 'downgrade', got action {action!r}"
        )


def _patterns(where: str, name: str, value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise ConfigurationError(f"{where}: {name} must be a string or a list of strings, got {value!r}")
    return tuple(_text(where, name, v) for v in values)


def _match(where: str, match: Any) -> _Frozen:
    if not isinstance(match, Mapping):
        raise ConfigurationError(f"{where}: match must be a table of key = pattern(s), got {match!r}")
    result = {}
    for key, patterns in match.items():
        if not isinstance(key, str) or not (key in MATCH_FIELDS or _TAG_KEY.match(key)):
            raise ConfigurationError(
                f"{where}: match key {key!r} must be 'provider', 'model' or a tag key ([a-z][a-z0-9_]*)"
            )
        result[key] = _patterns(where, f"match[{key!r}]", patterns)
        if not result[key]:
            raise ConfigurationError(
                f"{where}: match[{key!r}] needs at least one pattern; leave the key out to match any value"
            )
    return _Frozen(result)


def _tag_keys(where: str, name: str, keys: Any) -> tuple[str, ...]:
    values = [keys] if isinstance(keys, str) else keys
    if not isinstance(values, (list, tuple)):
        raise ConfigurationError(f"{where}: {name} must be a list of tag keys, got {keys!r}")
    for key in values:
        if not isinstance(key, str) or not _TAG_KEY.match(key):
            raise ConfigurationError(f"{where}: {name} entry {key!r} is not a tag key ([a-z][a-z0-9_]*)")
    return tuple(dict.fromkeys(values))


def _thresholds(where: str, values: Any) -> tuple[float, ...]:
    if not isinstance(values, (list, tuple)):
        raise ConfigurationError(f"{where}: thresholds must be a list of fractions such as [0.5, 0.8, 1.0]")
    result = []
    for value in values:
        number = _number(where, "thresholds entry", value, minimum=0.0, strict=True)
        if number > 1:
            raise ConfigurationError(
                f"{where}: thresholds are fractions of the limit in (0, 1], got {value!r}"
            )
        result.append(number)
    return tuple(sorted(set(result)))


__all__ = [
    "ACTIONS",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "Action",
    "Breaker",
    "BreakerOpenError",
    "Budget",
    "BudgetExceededError",
    "BudgetStoreUnavailableError",
    "Callback",
    "Catalogue",
    "Decision",
    "GuardrailError",
    "ModelNotApprovedError",
    "Policy",
    "UnpricedModelError",
    "WEEKDAYS",
]
