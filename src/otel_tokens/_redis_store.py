"""Budget counters in Redis, shared by every process and host that uses the same Redis.

:class:`RedisStore` keeps the contract of :mod:`otel_tokens._budget_store` (the admission rule,
all-or-nothing reserves, holds per call id that expire by themselves, settles done once per call
id, thresholds reported once per window, 60-slice rolling windows). Each ``reserve`` is one Lua
script over all of the call's counters, each ``settle`` another: Redis runs a script alone, so
check and hold, or drop and charge, is atomic across processes and hosts. Time is only the
``now`` the caller passes (never Redis' clock), so an injected clock drives every window.

Key layout (``P`` the prefix, ``B`` the budget id, ``G`` the group, ``W`` the window key; ``B``,
``G`` and ``W`` percent-encoded, so ``{``, ``}``, ``:`` and any other character are safe)::

    {P:B}:index          ZSET  member "G:W", score the counter's expiry (+inf: never)
    {P:B}:c:G:W          HASH  counter: the Counter's JSON, "spent" (fixed windows) or one
                               "s:<slice>" per rolling slice, "fired" thresholds, "rolling"
    {P:B}:c:G:W:h        ZSET  holds: member call id, score the hold's expiry
    {P:B}:c:G:W:a        HASH  holds: call id -> amount
    P:settled:<call id>  STRING  a settle's marker, kept a day: the second settle does nothing

Every key of a budget carries the hash tag ``{P:B}``, so in a Redis Cluster a budget lives in one
slot. Counter keys expire by themselves at the counter's ``expires_at`` (window end plus a day),
counted from the caller's ``now`` (``PEXPIRE expires_at - now``: the same instant as
``PEXPIREAT expires_at`` with a true clock, and never early when the caller's clock and Redis'
differ). A rolling counter lives for its window plus a day and a lifetime counter 400 days, each
refreshed by every reserve and settle: a lifetime budget untouched for 400 days starts again
from zero. The index of a budget lives as long as its longest-lived counter.

Failures: every command is bounded by ``timeout`` seconds (connect and read), redis-py does not
retry, and a failure raises :class:`StoreUnavailable` (``timeout``, ``unreachable`` or ``error``)
whose detail never holds the URL's credentials. After a ``timeout`` or ``unreachable``, calls
fail at once as ``unreachable`` for ``backoff`` seconds without touching the network, then try
again, so enforcement resumes by itself when Redis is back. A reserve that timed out may still
have been applied: its holds expire by themselves.

Not supported: Redis Cluster. The keys are laid out for it (a budget in one slot), but the store
uses a plain client and runs one script over all of a call's counters, whatever their budgets.
"""

from __future__ import annotations

import inspect
import json
import math
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from otel_tokens._budget_store import (
    ROLLING_SLICES,
    Counter,
    CounterState,
    Hold,
    Reservation,
    Settled,
    StoreUnavailable,
)
from otel_tokens._errors import ConfigurationError
from otel_tokens._redaction import redact_url, scrub, url_secrets

SETTLED_SECONDS = 86400.0
"""How long a settle's marker is kept (MemoryStore keeps its record of a settle as long)."""
ROLLING_EXTRA_SECONDS = 86400.0
"""A rolling counter's keys live this much longer than its window, from its last use."""
LIFETIME_SECONDS = 400 * 86400.0
"""A counter without expiry (lifetime) is forgotten when unused this long."""

# Shared by the three scripts. Numbers travel as strings ("%.17g" round-trips a double): Redis
# would truncate a Lua number in a reply to an integer, and HINCRBYFLOAT's long double would not
# add like the in-process store does.
_LUA_COMMON = f"""
local SLICES = {ROLLING_SLICES}
local function num(s)
  if s == nil or s == '' then return nil end
  return tonumber(s)
end
local function fmt(x) return string.format('%.17g', x) end

-- Holds whose expiry is <= now leave both the ZSET and the amounts.
local function purge_holds(h, a, now)
  local gone = redis.call('ZRANGEBYSCORE', h, '-inf', now)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', h, '-inf', now)
    for i = 1, #gone, 1000 do
      redis.call('HDEL', a, unpack(gone, i, math.min(i + 999, #gone)))
    end
  end
end

-- Sum of the holds but `except`'s, and how many holds there are.
local function held(a, except)
  local flat = redis.call('HGETALL', a)
  local total, n = 0, 0
  for i = 1, #flat, 2 do
    if flat[i] ~= except then total = total + tonumber(flat[i + 1]) end
    n = n + 1
  end
  return total, n
end

-- Settled spend; a rolling window drops the slices whose end is more than the window ago.
local function settled(c, rolling, now)
  if not rolling then return tonumber(redis.call('HGET', c, 'spent') or '0') end
  local oldest = math.ceil((now - rolling) / (rolling / SLICES)) - 1
  local flat = redis.call('HGETALL', c)
  local total = 0
  for i = 1, #flat, 2 do
    local f = flat[i]
    if string.sub(f, 1, 2) == 's:' then
      if tonumber(string.sub(f, 3)) < oldest then
        redis.call('HDEL', c, f)
      else
        total = total + tonumber(flat[i + 1])
      end
    end
  end
  return total
end

local function add(c, rolling, now, amount)
  local f = 'spent'
  if rolling then f = 's:' .. string.format('%d', math.floor(now / (rolling / SLICES))) end
  redis.call('HSET', c, f, fmt(tonumber(redis.call('HGET', c, f) or '0') + amount))
end

-- The counter's description, its place in the budget's index and every key's expiry.
local function touch(c, h, a, idx, ttl, score, member, counter_json, rolling)
  redis.call('HSET', c, 'counter', counter_json, 'rolling', rolling)
  redis.call('PEXPIRE', c, ttl)
  redis.call('PEXPIRE', h, ttl)
  redis.call('PEXPIRE', a, ttl)
  redis.call('ZADD', idx, score, member)
  if redis.call('PTTL', idx) < tonumber(ttl) then redis.call('PEXPIRE', idx, ttl) end
end
"""

# KEYS: per hold: counter, holds, amounts, index. ARGV: call id, now, hold expiry, then per
# hold: amount, enforce (1/0), limit ('' none), rolling seconds ('' none), ttl ms, index score,
# index member, counter JSON. Returns {admitted 1/0, refused index (0-based, -1), {used...}}.
_RESERVE_LUA = (
    _LUA_COMMON
    + """
local call, now_s, until_s = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(now_s)
local n = #KEYS / 4
local used = {}
for i = 1, n do
  local k, p = (i - 1) * 4, 3 + (i - 1) * 8
  purge_holds(KEYS[k + 2], KEYS[k + 3], now_s)
  local other = held(KEYS[k + 3], call)
  used[i] = settled(KEYS[k + 1], num(ARGV[p + 4]), now) + other
end
local out = {}
for i = 1, n do out[i] = fmt(used[i]) end
for i = 1, n do
  local p = 3 + (i - 1) * 8
  local amount, limit = tonumber(ARGV[p + 1]), num(ARGV[p + 3])
  if ARGV[p + 2] == '1' and limit and not (used[i] < limit and used[i] + amount <= limit) then
    return {0, i - 1, out}
  end
end
for i = 1, n do
  local k, p = (i - 1) * 4, 3 + (i - 1) * 8
  redis.call('ZADD', KEYS[k + 2], until_s, call)
  redis.call('HSET', KEYS[k + 3], call, ARGV[p + 1])
  touch(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], ARGV[p + 5], ARGV[p + 6], ARGV[p + 7],
        ARGV[p + 8], ARGV[p + 4])
end
return {1, -1, out}
"""
)

# KEYS: the settle marker, then per charge: counter, holds, amounts, index. ARGV: call id, now,
# marker ttl ms, then per charge: amount, limit, rolling seconds, ttl ms, index score, index
# member, counter JSON, thresholds (comma-separated). Returns per charge {spent, crossed indexes}.
_SETTLE_LUA = (
    _LUA_COMMON
    + """
local call, now = ARGV[1], tonumber(ARGV[2])
local already = redis.call('EXISTS', KEYS[1]) == 1
local n = (#KEYS - 1) / 4
local out = {}
for i = 1, n do
  local k, p = 1 + (i - 1) * 4, 3 + (i - 1) * 8
  local c, h, a = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local amount, limit, rolling = tonumber(ARGV[p + 1]), num(ARGV[p + 2]), num(ARGV[p + 3])
  redis.call('ZREM', h, call)
  redis.call('HDEL', a, call)
  touch(c, h, a, KEYS[k + 4], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6], ARGV[p + 7], ARGV[p + 3])
  local before = settled(c, rolling, now)
  if already or amount == 0 then
    out[i] = {fmt(before), ''}
  else
    add(c, rolling, now, amount)
    local after = settled(c, rolling, now)
    local fired = {}
    for t in string.gmatch(redis.call('HGET', c, 'fired') or '', '[^,]+') do
      -- Rolling: a threshold the sum fell below is re-armed.
      if not (rolling and limit) or after >= tonumber(t) * limit then fired[t] = true end
    end
    local new = {}
    if limit and after > 0 then
      local j = 0
      for t in string.gmatch(ARGV[p + 8], '[^,]+') do
        if not fired[t] and after >= tonumber(t) * limit then new[#new + 1] = tostring(j) end
        j = j + 1
      end
      for t in string.gmatch(ARGV[p + 8], '[^,]+') do
        if after >= tonumber(t) * limit then fired[t] = true end
      end
    end
    local keep = {}
    for t in pairs(fired) do keep[#keep + 1] = t end
    redis.call('HSET', c, 'fired', table.concat(keep, ','))
    out[i] = {fmt(after), table.concat(new, ',')}
  end
end
if not already then redis.call('SET', KEYS[1], '1', 'PX', ARGV[3]) end
return out
"""
)

# KEYS: the budget's index. ARGV: now, the budget's counter key prefix. Drops expired counters
# from the index; returns per live counter {counter JSON, spent, held, holds}.
_SNAPSHOT_LUA = (
    _LUA_COMMON
    + """
local now_s = ARGV[1]
local now = tonumber(now_s)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_s)
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local c = ARGV[2] .. member
  local desc = redis.call('HMGET', c, 'counter', 'rolling')
  if not desc[1] then
    redis.call('ZREM', KEYS[1], member)
  else
    local h, a = c .. ':h', c .. ':a'
    purge_holds(h, a, now_s)
    local total, count = held(a, '')
    out[#out + 1] = {desc[1], fmt(settled(c, num(desc[2]), now)), fmt(total), count}
  end
end
return out
"""
)


class RedisStore:
    """Budget counters in Redis (see the module docstring for keys, scripts and failures).

    ``url`` is a redis-py URL (``redis://[[user]:password@]host:port/db``, ``rediss://``,
    ``unix://``). Needs the ``redis`` package: ``pip install "otel-tokens[redis]"``. Creating the
    store does not connect; the first call does.
    """

    def __init__(
        self, url: str, *, prefix: str = "otel_tokens", timeout: float = 0.05, backoff: float = 1.0
    ) -> None:
        self._redis = _import_redis()
        if not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError(
                f"budget store prefix {prefix!r}: must be non-empty, without '{{' or '}}'"
            )
        if not timeout > 0 or not backoff >= 0:
            raise ConfigurationError(
                f"budget store timeout {timeout!r} must be > 0 and backoff {backoff!r} >= 0"
            )
        self._url = url
        self._prefix = prefix
        self._timeout = float(timeout)
        self._backoff = float(backoff)
        self._secrets = url_secrets(url)
        self._down_until = 0.0
        self._client = self._connect()
        kwargs = self._client.connection_pool.connection_kwargs
        path = kwargs.get("path")
        self._where = f"{path or kwargs.get('host')}" + ("" if path else f":{kwargs.get('port')}")
        self._where += f"/{kwargs.get('db', 0)}"
        self._reserve_script = self._client.register_script(_RESERVE_LUA)
        self._settle_script = self._client.register_script(_SETTLE_LUA)
        self._snapshot_script = self._client.register_script(_SNAPSHOT_LUA)

    def after_fork_in_child(self) -> None:
        """A child's own connection pool (redis-py also resets a pool it finds in another pid)."""
        self._client = self._connect()

    def reserve(self, call_id: str, holds: Sequence[Hold], now: float, hold_seconds: float) -> Reservation:
        if not holds:
            return Reservation(True, ())
        keys: list[str] = []
        args: list[str] = [call_id, _num(now), _num(now + hold_seconds)]
        for hold in holds:
            counter = hold.counter
            keys += self._counter_keys(counter)
            args += [
                _num(hold.amount),
                "1" if hold.enforce else "0",
                _opt(counter.limit),
                _opt(counter.rolling_seconds),
                *self._describe(counter, now),
            ]
        admitted, refused, used = self._run(self._reserve_script, keys, args)
        used_values = tuple(float(u) for u in used)
        if int(admitted) == 1:
            return Reservation(True, used_values)
        return Reservation(False, used_values, int(refused))

    def settle(self, call_id: str, charges: Sequence[tuple[Counter, float]], now: float) -> list[Settled]:
        keys = [f"{self._prefix}:settled:{_quote(call_id)}"]
        args = [call_id, _num(now), str(math.ceil(SETTLED_SECONDS * 1000))]
        for counter, amount in charges:
            keys += self._counter_keys(counter)
            args += [
                _num(amount),
                _opt(counter.limit),
                _opt(counter.rolling_seconds),
                *self._describe(counter, now),
                ",".join(repr(float(t)) for t in counter.thresholds),
            ]
        replies = self._run(self._settle_script, keys, args)
        results = []
        for (counter, _), (spent, new) in zip(charges, replies, strict=True):
            crossed = tuple(counter.thresholds[int(j)] for j in new.split(",") if j)
            results.append(Settled(counter, float(spent), crossed))
        return results

    def snapshot(self, now: float, budget_ids: Sequence[str]) -> list[CounterState]:
        states = []
        for budget_id in dict.fromkeys(budget_ids):
            tag = self._tag(budget_id)
            rows = self._run(self._snapshot_script, [f"{tag}:index"], [_num(now), f"{tag}:c:"])
            for counter_json, spent, held, holds in rows:
                states.append(CounterState(_counter(counter_json), float(spent), float(held), int(holds)))
        return states

    def close(self) -> None:
        """Closes this process's connections; the counters stay in Redis for the others."""
        self._client.close()

    def _connect(self) -> Any:
        redis = self._redis
        options: dict[str, Any] = {
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
            "retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0),
            "health_check_interval": 0,
            "decode_responses": True,
        }
        # No CLIENT SETINFO round trips on connect, each of which the timeout would have to cover.
        if "driver_info" in inspect.signature(redis.connection.AbstractConnection.__init__).parameters:
            options["driver_info"] = None
        else:
            options.update(lib_name=None, lib_version=None)
        try:
            return redis.Redis.from_url(self._url, **options)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"budget store URL {redact_url(self._url)}: {self._scrub(str(exc))}"
            ) from None

    def _run(self, script: Any, keys: list[str], args: list[str]) -> Any:
        left = self._down_until - time.monotonic()
        if left > 0:
            raise StoreUnavailable("unreachable", f"redis at {self._where}: backing off for {left:.2f}s more")
        errors = self._redis.exceptions
        try:
            return script(keys=keys, args=args, client=self._client)
        except (errors.RedisError, OSError) as exc:
            if isinstance(exc, errors.TimeoutError | TimeoutError):
                reason = "timeout"
            elif isinstance(exc, errors.AuthenticationError):
                reason = "error"
            elif isinstance(exc, errors.ConnectionError | OSError):
                reason = "unreachable"
            else:
                reason = "error"
            if reason != "error":
                # Redis answered nothing: give it `backoff` seconds before the next try.
                self._down_until = time.monotonic() + self._backoff
            detail = f"redis at {self._where}: {type(exc).__name__}: {self._scrub(str(exc))}"
            # `from None`: the redis-py error stays out of tracebacks and logs.
            raise StoreUnavailable(reason, detail) from None

    def _tag(self, budget_id: str) -> str:
        return f"{{{self._prefix}:{_quote(budget_id)}}}"

    def _counter_keys(self, counter: Counter) -> list[str]:
        tag = self._tag(counter.budget_id)
        base = f"{tag}:c:{_member(counter)}"
        return [base, f"{base}:h", f"{base}:a", f"{tag}:index"]

    def _describe(self, counter: Counter, now: float) -> list[str]:
        """ttl ms, index score, index member, counter JSON."""
        if counter.expires_at is not None:
            seconds = counter.expires_at - now
            score = _num(counter.expires_at)
        elif counter.rolling_seconds is not None:
            seconds = counter.rolling_seconds + ROLLING_EXTRA_SECONDS
            score = "+inf"
        else:
            seconds = LIFETIME_SECONDS
            score = "+inf"
        ttl = max(1000, math.ceil(seconds * 1000))  # a live call never writes an already expired key
        return [str(ttl), score, _member(counter), _counter_json(counter)]

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)


def _import_redis() -> Any:
    try:
        import redis
        import redis.backoff
        import redis.connection
        import redis.exceptions
        import redis.retry
    except ImportError:
        raise ConfigurationError(
            'the Redis budget store needs the redis package: pip install "otel-tokens[redis]"'
        ) from None
    return redis


def _quote(text: str) -> str:
    """Safe inside a key and a hash tag: letters, digits and ``_.-~`` as is, all else %XX."""
    return urllib.parse.quote(text, safe="")


def _member(counter: Counter) -> str:
    return f"{_quote(counter.group)}:{_quote(counter.window)}"


def _num(value: float) -> str:
    return repr(float(value))


def _opt(value: float | None) -> str:
    return "" if value is None else _num(value)


def _counter_json(counter: Counter) -> str:
    return json.dumps(
        [
            counter.budget_id,
            counter.group,
            counter.window,
            counter.limit,
            counter.expires_at,
            counter.rolling_seconds,
            list(counter.thresholds),
        ],
        separators=(",", ":"),
    )


def _counter(text: str) -> Counter:
    budget_id, group, window, limit, expires_at, rolling_seconds, thresholds = json.loads(text)
    return Counter(budget_id, group, window, limit, expires_at, rolling_seconds, tuple(thresholds))
