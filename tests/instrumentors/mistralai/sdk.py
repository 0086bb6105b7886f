"""The mistralai names the tests use, from either layout (2.x+ ``mistralai.client``, 1.x ``mistralai``)."""

from __future__ import annotations

try:
    from mistralai.client import Mistral, errors, models
    from mistralai.client.types import UNSET
    from mistralai.client.utils.eventstreaming import EventStream, EventStreamAsync
except ImportError:  # mistralai 1.x
    from mistralai import Mistral, models  # type: ignore[attr-defined,no-redef]
    from mistralai import models as errors  # type: ignore[no-redef]
    from mistralai.types import UNSET  # type: ignore[no-redef]
    from mistralai.utils.eventstreaming import EventStream, EventStreamAsync  # type: ignore[no-redef]

__all__ = ["UNSET", "EventStream", "EventStreamAsync", "Mistral", "errors", "models"]
