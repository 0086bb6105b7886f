"""The Amazon Bedrock (bedrock-runtime) wire format for the fake provider server, as pure functions.

PLACEHOLDER: takes no request yet (being written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._openai_wire import Reply

if TYPE_CHECKING:
    from ._fake_server import ReceivedRequest, Scenario


def handles(request: ReceivedRequest) -> bool:
    """Whether this wire format answers `request`."""
    return False


def dispatch(request: ReceivedRequest, scenario: Scenario) -> Reply:
    """Answer `request` the way Amazon Bedrock (bedrock-runtime) would under `scenario`."""
    raise NotImplementedError
