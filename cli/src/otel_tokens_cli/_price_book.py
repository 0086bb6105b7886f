"""The SDK's price book as the commands open it: the services' override file, errors at FILE:LINE.

``--overrides`` (or OTEL_TOKENS_PRICE_OVERRIDES) names the same TOML file the instrumented
services read. A problem in it is one line naming the file and, where it can be found, the line
of the offending table or field: tomllib gives no positions, so the entry and field the core's
message names are looked up in the text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from otel_tokens._errors import ConfigurationError
from otel_tokens.pricing import PriceBook
from otel_tokens_cli._failure import Failure

__all__ = ["captured_warnings", "locate", "open_price_book", "overrides_option", "warn_overrides"]

F = TypeVar("F", bound=Callable[..., Any])

_LABEL = "price overrides"  # how the core names the override file in its errors


def overrides_option(function: F) -> F:
    """Adds ``--overrides FILE`` (env OTEL_TOKENS_PRICE_OVERRIDES); the command receives ``overrides``."""
    return click.option(
        "--overrides",
        metavar="FILE",
        envvar="OTEL_TOKENS_PRICE_OVERRIDES",
        show_envvar=True,
        help="The services' price override file (TOML): [[price]] and [[discount]] tables.",
    )(function)


def open_price_book(overrides: str | None) -> PriceBook:
    """The SDK's price book with the services' override file; a problem names FILE:LINE."""
    try:
        return PriceBook(overrides or None)
    except ConfigurationError as error:
        message, path = str(error), overrides or ""
        if not message.startswith(f"{_LABEL} {path}: "):
            raise Failure(message) from None
        raise Failure(f"{locate(path, message)}: {_after_prefix(path, message)}") from None


def warn_overrides(path: str | None, warnings: Sequence[str]) -> None:
    """The override file's warnings (a provider otel-tokens does not know), one line each on stderr."""
    for warning in warnings:
        where = locate(path, warning) if path else "otel-tokens"
        click.echo(f"{where}: warning: {_after_prefix(path or '', warning)}", err=True)


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """The core's warnings while resolving, as messages: they are shown our way, not logged."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("otel_tokens")
    handler, propagate = Keep(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


# Where in the file: tomllib gives no positions, so the entry and field the message names are
# looked up in the text.

_ENTRY = re.compile(r"\b(price|discount)\[(\d+)\]")
_FIELD = re.compile(r"(?:field|top-level key) '([^']+)'|: (provider) '")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)|on line (\d+)\)")


def locate(path: str, message: str) -> str:
    """``FILE:LINE`` of what an override-file message is about (``FILE`` when no line is found):
    the line of the named field in the named ``[[price]]``/``[[discount]]`` table, else the
    table's header; the parser's own line for invalid TOML."""
    line = _line(path, message)
    return path if line is None else f"{path}:{line}"


def _line(path: str, message: str) -> int | None:
    parsed = _TOML_LINE.search(message)
    if parsed:
        return int(parsed.group(1) or parsed.group(2))
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    entry, field = _ENTRY.search(message), _FIELD.search(message)
    start, end = 0, len(lines)
    if entry:
        headers = [i for i, text in enumerate(lines) if re.match(rf"\s*\[\[\s*{entry.group(1)}\s*\]\]", text)]
        index = int(entry.group(2))
        if index >= len(headers):
            return None
        start = headers[index]
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"\s*\[", lines[i])), len(lines))
    name = (field.group(1) or field.group(2)) if field else (None if entry else _table_name(message))
    if name is not None:
        quoted = re.escape(name)
        key = re.compile(rf"""\s*(?:{quoted}|"{quoted}"|'{quoted}')\s*=|\s*\[+\s*{quoted}\s*\]""")
        for i in range(start, end):
            if key.match(lines[i]):
                return i + 1
    return start + 1 if entry else None


def _table_name(message: str) -> str | None:
    found = re.search(r"'(price|discount)' must be written as", message)
    return found.group(1) if found else None


def _after_prefix(path: str, message: str) -> str:
    """A core message without its ``price overrides FILE: `` prefix."""
    return message.removeprefix(f"{_LABEL} {path}: ")
