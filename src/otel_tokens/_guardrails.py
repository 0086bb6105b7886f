"""Enforcement: the policy of a process, applied to each call before it is sent and after it ends.

:meth:`Guardrails.admit` runs in the call shell before the SDK is called. In order: the first
matching catalogue (is the model approved?), every matching budget (reserve the call's worst
case against all of them at once, in the store), every matching runaway breaker (is it open?).
A guardrail that finds a problem resolves its action: ``warn`` lets the call go on (marked and
logged), ``downgrade`` sends it to a cheaper model, ``block`` raises a
:class:`~otel_tokens.budgets.GuardrailError` (the call is recorded as blocked, nothing is sent,
anything already held is released); a callback decides any of these. :meth:`Guardrails.settle`
runs when the call's telemetry is written: it replaces the holds by what the call really cost
(nothing for a call that failed before any usage), reports thresholds reached and feeds the
breakers. A store that fails or is slower than its timeout never stalls a call: the budget's
``fail_mode`` decides, the failure is counted, and it is logged once per outage.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from urllib.parse import quote, unquote

from otel_tokens import _reservation, _runtime
from otel_tokens._breaker import RunawayBreakers, Transition
from otel_tokens._budget_store import Counter, CounterState, Hold, Settled, Store, StoreUnavailable
from otel_tokens._invocation import CallRequest
from otel_tokens._safety import report
from otel_tokens._tags import CardinalityGuard
from otel_tokens._windows import Window
from otel_tokens.budgets import (
    Action,
    Breaker,
    BreakerOpenError,
    Budget,
    BudgetExceededError,
    BudgetStoreUnavailableError,
    Catalogue,
    Decision,
    GuardrailError,
    ModelNotApprovedError,
    Policy,
    UnpricedModelError,
)
from otel_tokens.pricing import Cost, PriceBook
from otel_tokens.semconv import (
    DECISION_ADMITTED,
    DECISION_BLOCKED,
    DECISION_DOWNGRADED,
    DECISION_WARNED,
    tag_attribute,
)
from otel_tokens.usage import Usage

logger = logging.getLogger("otel_tokens")

UNTAGGED = "__untagged__"
"""The group value of a call without the tag a budget groups by."""
_EXPIRY_GRACE = 86400.0  # a counter outlives its window by a day, for reports of the last one


@dataclass(slots=True)
class Admission:
    """What the guardrails decided for one call, and what it holds until it settles."""

    call_id: str
    owner: Guardrails
    """The guardrails that admitted the call: it settles there, even if a new policy (or a new
    store) is in force by the time it ends."""
    decision: str = DECISION_ADMITTED
    decided_by: str | None = None
    """The guardrail that acted, else the most used matching budget."""
    utilisation: float | None = None
    reservation: float | None = None
    unit: str | None = None
    model: str | None = None
    """The model to send instead (downgrade); None: as asked."""
    original_model: str | None = None
    approved: bool | None = None
    """Whether a matching catalogue approves the model (None: none matched)."""
    catalogue_id: str | None = None
    holds: list[tuple[_Compiled, Counter]] = field(default_factory=list)
    store_failed: bool = False
    breakers: list[tuple[Breaker, str, bool]] = field(default_factory=list)
    """(rule, group, probe) of every matching breaker."""
    actions: list[tuple[str, str]] = field(default_factory=list)
    """(guardrail id, decision) of every guardrail that warned, downgraded or blocked."""
    transitions: list[Transition] = field(default_factory=list)
    store_errors: list[str] = field(default_factory=list)
    settled: bool = False

    def cannot_downgrade(self) -> None:
        """The client could not be sent another model: the call goes as asked, marked as warned."""
        logger.warning(
            "otel-tokens: guardrail %r asked to send this call to %r, but the client's arguments do not "
            "allow it; the call goes to %r (recorded as warned)",
            self.decided_by, self.model, self.original_model,
        )  # fmt: skip
        self.actions = [
            (ident, DECISION_WARNED if d == DECISION_DOWNGRADED else d) for ident, d in self.actions
        ]
        self.decision = DECISION_WARNED
        self.model = self.original_model = None


@dataclass(slots=True)
class SettleReport:
    """What a settle found, for the recorder to write as events, logs and metrics."""

    crossed: list[tuple[Settled, float]] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    store_errors: list[str] = field(default_factory=list)


class _Compiled:
    """A budget with its window parsed and its current window's counter bounds cached."""

    __slots__ = ("budget", "window", "_rolling", "_cached")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.window: Window = budget.parsed_window()
        length = self.window.length
        self._rolling = length.total_seconds() if self.window.kind == "rolling" and length else None
        self._cached: tuple[float, float, str, datetime | None] | None = None

    def counter(self, group: str, now: float) -> tuple[Counter, datetime | None]:
        cached = self._cached
        if cached is None or not (cached[0] <= now < cached[1]):
            cached = self._cached = self._bounds(now)
        _, end, key, resets_at = cached
        budget = self.budget
        expires = None if end == float("inf") else end + _EXPIRY_GRACE
        counter = Counter(
            budget.id, group, key, budget.limit, expires, self._rolling, tuple(budget.thresholds)
        )
        return counter, resets_at

    def _bounds(self, now: float) -> tuple[float, float, str, datetime | None]:
        moment = datetime.fromtimestamp(now, UTC)
        key = self.window.key(moment)
        if self.window.kind in ("rolling", "lifetime"):
            return (float("-inf"), float("inf"), key, None)
        start, end = self.window.bounds(moment)
        assert end is not None
        return (start.timestamp(), end.timestamp(), key, end)


class Guardrails:
    """A policy, compiled, with its store and breakers: one per process (``_runtime.STATE``)."""

    def __init__(
        self,
        policy: Policy,
        store: Store,
        prices: PriceBook,
        *,
        clock: Callable[[], float] = time.time,
        max_tag_values: int = 100,
        breakers: RunawayBreakers | None = None,
    ) -> None:
        self.policy = policy
        self.store = store
        self.store_config: tuple[str, int, str] | None = None
        """The settings the store was made from (a reload with the same ones keeps the store)."""
        self.clock = clock
        self._prices = prices
        self._budgets = [_Compiled(budget) for budget in policy.budgets]
        self.breakers = breakers if breakers is not None else RunawayBreakers(policy.breakers)
        grouped: tuple[Budget | Breaker, ...] = (*policy.budgets, *policy.breakers)
        keys = {key: None for rule in grouped for key in rule.group_by}
        self._group_keys, self._max_values = tuple(keys), max_tag_values
        # Group values are bounded like metric tags (a counter per value must not grow forever).
        self._groups = CardinalityGuard(self._group_keys, max_tag_values)
        self._store_down = False
        self._snapshot: tuple[float, list[CounterState]] | None = None

    def after_fork_in_child(self) -> None:
        # A new guard: its lock may have been held by a parent's thread (as the metrics' guard).
        self._groups = CardinalityGuard(self._group_keys, self._max_values)
        self.breakers.after_fork_in_child()
        renew = getattr(self.store, "after_fork_in_child", None)
        if renew is not None:
            renew()

    # -- before the call ----------------------------------------------------------------------

    def admit(self, request: CallRequest, tags: Mapping[str, str]) -> Admission:
        """Decide the call; raises a :class:`GuardrailError` to block it (nothing left held)."""
        admission = Admission(os.urandom(8).hex(), self)
        now = self.clock()
        model = request.request_model
        try:
            for catalogue in self.policy.catalogues:
                if call_matches(catalogue.match, request.provider, model, tags):
                    model = self._check_catalogue(catalogue, request, model, tags, admission)
                    break
            model = self._reserve(request, model, tags, admission, now)
            self._check_breakers(request, model, tags, admission, now)
        except BaseException as error:
            self.release(admission)  # blocked, or an internal error: nothing may stay held
            if isinstance(error, GuardrailError):
                error.admission = admission
            raise
        if model != request.request_model:
            admission.model, admission.original_model = model, request.request_model
        return admission

    def _check_catalogue(
        self,
        catalogue: Catalogue,
        request: CallRequest,
        model: str | None,
        tags: Mapping[str, str],
        admission: Admission,
    ) -> str | None:
        admission.catalogue_id = catalogue.id
        reason = self._unapproved(catalogue, request, model)
        admission.approved = reason is None
        if reason is None:
            return model
        decision = Decision("catalogue", catalogue.id, request.provider, model, tags, reason)
        chosen = self._act(
            catalogue, decision, admission, model, ModelNotApprovedError(catalogue.id, model, reason)
        )
        if chosen != model:  # downgraded: labelled by the model actually sent
            admission.approved = self._unapproved(catalogue, request, chosen) is None
        return chosen

    def _unapproved(self, catalogue: Catalogue, request: CallRequest, model: str | None) -> str | None:
        if not model:
            return "the call names no model"
        if catalogue.models and not any(fnmatchcase(model, pattern) for pattern in catalogue.models):
            return f"not in the approved list ({', '.join(catalogue.models)})"
        if catalogue.max_output_usd_per_million is None and catalogue.allow_unpriced:
            return None
        # The price book caches per model (and knows when a dated price changes): no cache here.
        price = _reservation.output_price_per_million(request, model, self._prices)
        if price is None:
            return None if catalogue.allow_unpriced else "the model has no known price"
        ceiling = catalogue.max_output_usd_per_million
        if ceiling is not None and price > ceiling:
            return f"output costs {price:g} USD per million tokens, above the ceiling of {ceiling:g}"
        return None

    def _reserve(
        self,
        request: CallRequest,
        model: str | None,
        tags: Mapping[str, str],
        admission: Admission,
        now: float,
    ) -> str | None:
        matched = [
            (compiled, self._group(compiled.budget.group_by, tags))
            for compiled in self._budgets
            if call_matches(compiled.budget.match, request.provider, model, tags)
        ]
        if not matched:
            return model
        counted = _reservation.input_tokens(request)
        relaxed: set[str] = set()
        defaults = self.policy.max_output_tokens
        for _attempt in range(len(matched) + 1):
            worst = _reservation.worst_case(request, model, self._prices, defaults, counted)
            holds, resets = [], []
            for compiled, group in matched:
                budget = compiled.budget
                try:
                    amount = self._worst_amount(budget, worst, request, model)
                except UnpricedModelError:
                    _mark_blocked(admission, budget.id)
                    raise
                counter, resets_at = compiled.counter(group, now)
                enforce = budget.limit is not None and budget.id not in relaxed
                holds.append(Hold(counter, amount, enforce))
                resets.append(resets_at)
            try:
                answer = self.store.reserve(admission.call_id, holds, now, self.policy.hold_seconds)
            except StoreUnavailable as down:
                self._store_failed(down, admission.store_errors)
                admission.store_failed = True
                closed = [c.budget for c, _ in matched if c.budget.fail_mode == "closed"]
                if closed:
                    _mark_blocked(admission, closed[0].id)
                    raise BudgetStoreUnavailableError(closed[0].id, down.reason) from None
                return model
            self._store_up()
            if answer.admitted:
                admission.holds = [
                    (compiled, hold.counter) for (compiled, _), hold in zip(matched, holds, strict=True)
                ]
                self._note_utilisation(admission, matched, holds, answer.used)
                return model
            index = answer.refused
            assert index is not None
            compiled, group = matched[index]
            budget, hold = compiled.budget, holds[index]
            assert budget.limit is not None
            decision = Decision(
                "budget", budget.id, request.provider, model, tags, "limit",
                budget.limit, answer.used[index], hold.amount, budget.unit, resets[index],
            )  # fmt: skip
            error = BudgetExceededError(
                budget.id, limit=budget.limit, spent=answer.used[index], reservation=hold.amount,
                unit=budget.unit, group=group, window=budget.window, resets_at=resets[index],
            )  # fmt: skip
            admission.utilisation = (
                (answer.used[index] + hold.amount) / budget.limit if budget.limit else None
            )
            admission.reservation, admission.unit = hold.amount, budget.unit
            model = self._act(budget, decision, admission, model, error)
            relaxed.add(budget.id)
        return model

    def _worst_amount(
        self, budget: Budget, worst: _reservation.WorstCase, request: CallRequest, model: str | None
    ) -> float:
        if budget.unit == "token":
            return float(worst.tokens)
        if worst.cost is not None:
            return worst.cost.total
        if budget.on_unpriced == "block":
            raise UnpricedModelError(budget.id, request.provider, model)
        if budget.on_unpriced == "allow":
            return 0.0
        return _unpriced_usd(budget, worst.input_tokens, worst.output_tokens)

    def _note_utilisation(
        self,
        admission: Admission,
        matched: Sequence[tuple[_Compiled, str]],
        holds: Sequence[Hold],
        used: Sequence[float],
    ) -> None:
        best: tuple[float, str, float, str] | None = None
        for (compiled, _), hold, before in zip(matched, holds, used, strict=True):
            limit = compiled.budget.limit
            if limit is None:
                continue
            share = (before + hold.amount) / limit if limit else float("inf")
            if best is None or share > best[0]:
                best = (share, compiled.budget.id, hold.amount, compiled.budget.unit)
        if best is None:
            compiled, hold = matched[0][0], holds[0]
            admission.reservation, admission.unit = hold.amount, compiled.budget.unit
            admission.decided_by = admission.decided_by or compiled.budget.id
            return
        share, ident, amount, unit = best
        budget_ids = {compiled.budget.id for compiled, _ in matched}
        if admission.decided_by not in budget_ids:  # nobody, or a catalogue, decided
            admission.decided_by = admission.decided_by or ident
            admission.utilisation, admission.reservation, admission.unit = share, amount, unit
            return
        for (compiled, _), hold, before in zip(matched, holds, used, strict=True):
            budget = compiled.budget
            if budget.id == admission.decided_by:  # a budget acted: show what it finally held
                admission.reservation, admission.unit = hold.amount, budget.unit
                if budget.limit:
                    admission.utilisation = (before + hold.amount) / budget.limit

    def _check_breakers(
        self,
        request: CallRequest,
        model: str | None,
        tags: Mapping[str, str],
        admission: Admission,
        now: float,
    ) -> None:
        for rule in self.policy.breakers:
            if not call_matches(rule.match, request.provider, model, tags):
                continue
            group = self._group(rule.group_by, tags)
            verdict = self.breakers.check(rule, group, now)
            admission.transitions.extend(verdict.transitions)
            if verdict.admitted:
                admission.breakers.append((rule, group, verdict.probe))
                continue
            opened = [t for t in verdict.transitions if t.to_state == "open"]
            reason = opened[-1].reason if opened else f"cooling down for {rule.cooldown_seconds:g} s"
            decision = Decision("breaker", rule.id, request.provider, model, tags, reason)
            error = BreakerOpenError(rule.id, group, reason, None)
            self._act(rule, decision, admission, model, error)
            admission.breakers.append((rule, group, False))

    # -- actions -------------------------------------------------------------------------------

    def _act(
        self,
        rule: Budget | Breaker | Catalogue,
        decision: Decision,
        admission: Admission,
        model: str | None,
        blocked: GuardrailError,
    ) -> str | None:
        """Apply ``rule``'s action to a call it found a problem with: the model to send, or raise."""
        action = self._resolve(rule, decision)
        if action.kind == "downgrade" and isinstance(rule, Breaker):
            # Checked last, after budgets reserved for the model asked: an open breaker blocks or warns.
            action = Action.block()
        admission.decided_by = rule.id
        if action.kind == "block":
            admission.decision = DECISION_BLOCKED
            admission.actions.append((rule.id, DECISION_BLOCKED))
            raise blocked
        if action.kind == "downgrade" and action.model and action.model != model:
            admission.decision = DECISION_DOWNGRADED
            admission.actions.append((rule.id, DECISION_DOWNGRADED))
            self._log_once(
                rule.id, f"sending {model!r} calls to {action.model!r} instead ({decision.reason})"
            )
            return action.model
        if admission.decision == DECISION_ADMITTED:
            admission.decision = DECISION_WARNED
        admission.actions.append((rule.id, DECISION_WARNED))
        self._log_once(
            rule.id, f"{decision.kind} {rule.id!r} would stop this call ({decision.reason}); warn only"
        )
        return model

    def _resolve(self, rule: Budget | Breaker | Catalogue, decision: Decision) -> Action:
        action = rule.action
        if not callable(action):
            return Action(action, rule.downgrade_to)  # type: ignore[arg-type]
        try:
            chosen = action(decision)
        except Exception as error:  # noqa: BLE001 - the user's callback: its failure must not escape
            logger.warning(
                "otel-tokens: the callback of %s %r raised %r; fail_mode %r applies",
                decision.kind, rule.id, error, rule.fail_mode,
            )  # fmt: skip
            return Action.warn() if rule.fail_mode == "open" else Action.block()
        if chosen is None or chosen == "warn":
            return Action.warn()
        if chosen == "block":
            return Action.block()
        if chosen == "downgrade" and rule.downgrade_to:
            return Action.downgrade(rule.downgrade_to)
        if isinstance(chosen, Action):
            return chosen
        logger.warning(
            "otel-tokens: the callback of %s %r returned %r, not an Action, 'warn' or 'block'; "
            "fail_mode %r applies",
            decision.kind, rule.id, chosen, rule.fail_mode,
        )  # fmt: skip
        return Action.warn() if rule.fail_mode == "open" else Action.block()

    # -- after the call ------------------------------------------------------------------------

    def settle(self, admission: Admission, usage: Usage | None, cost: Cost | None) -> SettleReport:
        """Charge what the call cost (once per admission); report thresholds and breaker changes."""
        report_ = SettleReport()
        if admission.settled:
            return report_
        admission.settled = True
        self._snapshot = None  # the gauges must see this charge at their next collection
        now = self.clock()
        usd = cost.total if cost is not None else 0.0
        if admission.holds and not admission.store_failed:
            charges = [
                (counter, _charge(compiled.budget, usage, cost)) for compiled, counter in admission.holds
            ]
            try:
                settled = self.store.settle(admission.call_id, charges, now)
            except StoreUnavailable as down:
                self._store_failed(down, report_.store_errors)  # the holds expire by themselves
            else:
                self._store_up()
                for result in settled:
                    report_.crossed.extend((result, threshold) for threshold in result.crossed)
        for rule, group, probe in admission.breakers:
            report_.transitions.extend(self.breakers.record(rule, group, usd, now, probe))
        return report_

    def release(self, admission: Admission) -> None:
        """Free a call's holds without charging (it was blocked or never sent)."""
        if admission.settled or not admission.holds or admission.store_failed:
            admission.settled = True
            return
        admission.settled = True
        try:
            self.store.settle(
                admission.call_id, [(counter, 0.0) for _, counter in admission.holds], self.clock()
            )
        except StoreUnavailable as down:
            self._store_failed(down, admission.store_errors)

    def snapshot(self) -> list[CounterState]:
        """Every live counter of the policy's budgets: the spend, limit and reserved gauges read
        it once per collection (at most a second old, and never older than this process's last
        settle)."""
        now = self.clock()
        cached = self._snapshot
        if cached is not None and 0 <= now - cached[0] < 1.0:
            return cached[1]
        states = self.store.snapshot(now, [b.id for b in self.policy.budgets])
        self._snapshot = (now, states)
        return states

    # -- helpers -------------------------------------------------------------------------------

    def _group(self, keys: Sequence[str], tags: Mapping[str, str]) -> str:
        """The canonical group of a call (``team=search,feature=chat``), values bounded per key
        (beyond ``max_tag_values``, new values share ``__overflow__``)."""
        if not keys:
            return ""
        bounded = self._groups.metric_attributes({key: tags.get(key, UNTAGGED) for key in keys})
        return ",".join(f"{key}={quote(bounded[tag_attribute(key)], safe='')}" for key in keys)

    def _store_failed(self, down: StoreUnavailable, errors: list[str]) -> None:
        errors.append(down.reason)
        if not self._store_down:
            self._store_down = True
            logger.warning(
                "otel-tokens: the budget store is not answering (%s); calls follow each budget's fail_mode "
                "until it answers again (logged once per outage)",
                down,
            )

    def _store_up(self) -> None:
        if self._store_down:
            self._store_down = False
            logger.warning("otel-tokens: the budget store answers again; budgets are enforced")

    def _log_once(self, ident: str, message: str) -> None:
        key = f"guardrail: {ident}: {message}"
        reported = _runtime.STATE.reported
        if key in reported:
            logger.debug("otel-tokens: %s", message)
            return
        reported.add(key)
        logger.warning("otel-tokens: %s (logged once)", message)


def group_attributes(group: str) -> dict[str, str]:
    """A group made by :meth:`Guardrails._group` (``team=search,feature=chat``) as metric
    attributes, named like every tag on our metrics."""
    if not group:
        return {}
    pairs = (part.split("=", 1) for part in group.split(","))
    return {tag_attribute(key): unquote(value) for key, value in pairs}


def _mark_blocked(admission: Admission, ident: str) -> None:
    admission.decision, admission.decided_by = DECISION_BLOCKED, ident
    admission.actions.append((ident, DECISION_BLOCKED))


def call_matches(
    match: Mapping[str, Sequence[str]], provider: str, model: str | None, tags: Mapping[str, str]
) -> bool:
    """Whether a rule's ``match`` selects a call: every key (``provider``, ``model`` or a tag key)
    has a value matching one of its patterns (exact or glob, case-sensitive). A call without the
    key's value (no tag, no model) is not selected, even by ``*``; an empty ``match`` selects all."""
    for key, patterns in match.items():
        value = provider if key == "provider" else model if key == "model" else tags.get(key)
        if value is None or not any(fnmatchcase(value, pattern) for pattern in patterns):
            return False
    return True


def _charge(budget: Budget, usage: Usage | None, cost: Cost | None) -> float:
    if usage is None:
        return 0.0  # failed before any usage: the hold is released
    if budget.unit == "token":
        return float((usage.input_tokens or 0) + (usage.output_tokens or 0))
    if cost is not None:
        return cost.total
    if budget.on_unpriced == "estimate":
        return _unpriced_usd(budget, usage.input_tokens or 0, usage.output_tokens or 0)
    return 0.0


def _unpriced_usd(budget: Budget, input_tokens: int, output_tokens: int) -> float:
    """A model with no price, charged at the budget's ``unpriced_rates`` (USD per million)."""
    rate_in, rate_out = budget.unpriced_rates
    return (input_tokens * rate_in + output_tokens * rate_out) / 1_000_000


def release_call(admission: Admission | None) -> None:
    """Free what ``admission`` holds when its call will not be recorded or never made (a stream
    manager never entered, say); the hold would otherwise stay until it expires. Never raises."""
    if admission is None:
        return
    try:
        admission.owner.release(admission)
    except Exception as error:  # noqa: BLE001
        report("guardrails release", error)
