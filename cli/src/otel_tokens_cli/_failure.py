"""How every subcommand fails: one line on stderr naming the problem, a non-zero exit status."""

from __future__ import annotations

import click

__all__ = ["Failure", "UsageFailure"]


class Failure(click.ClickException):
    """A problem with the input or a backend, shown as one line (``Error: ...``) on stderr."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split("\n")))


class UsageFailure(Failure):
    """An option or argument is missing or wrong: a usage error, exit status 2 as click's own."""

    exit_code = 2
