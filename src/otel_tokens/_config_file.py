"""Reading the TOML files users write (price overrides, budget policies), with one set of errors.

Every problem raises :class:`ConfigurationError` starting with ``{label} {path}: ``: an
unreadable file, bytes that are not UTF-8 (with the line), invalid TOML (tomllib's message,
with line and column).
"""

from __future__ import annotations

from typing import Any

from otel_tokens._errors import ConfigurationError


def read_toml(path: str, label: str) -> dict[str, Any]:
    """The parsed content of the TOML file at ``path``; ``label`` names the file in errors."""
    import tomllib  # here: most processes read no such file

    prefix = f"{label} {path}"
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as error:
        raise ConfigurationError(f"{prefix}: cannot read the file: {error.strerror or error}") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigurationError(
            f"{prefix}: not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); "
            "TOML files must be saved as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{prefix}: not valid TOML: {error}") from error
