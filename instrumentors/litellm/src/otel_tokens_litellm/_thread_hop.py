"""The call-once marker across LiteLLM's thread hop (``run_async_function``).

A named exception to the patch table's call shells: this wrapper records nothing, it only
carries the core's "inside a recorded call" mark (``enter_call``/``exit_call``) into a coroutine
that LiteLLM runs on a fresh thread, which does not inherit context variables.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from otel_tokens.instrumentation import Recorder, WrapperFn, enter_call, exit_call, in_instrumented_call


def carry_call_marker(recorder: Recorder) -> WrapperFn:
    """Wrap LiteLLM's ``run_async_function`` so the coroutine it runs knows it is inside our call.

    A sync ``completion(fallbacks=...)`` made while an event loop runs in the thread (a notebook,
    a coroutine calling the sync API) runs its fallbacks through ``run_async_function``, which
    starts a new thread without copying context variables: the ``acompletion`` and the openai call
    inside would then each record the same logical call again.
    """

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not in_instrumented_call():
            return wrapped(*args, **kwargs)
        if args:
            args = (_marked(args[0]), *args[1:])
        elif "async_function" in kwargs:
            kwargs = {**kwargs, "async_function": _marked(kwargs["async_function"])}
        return wrapped(*args, **kwargs)

    return wrapper


def _marked(function: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(function)
    async def run(*args: Any, **kwargs: Any) -> Any:
        token = enter_call()  # the task runs in the context it was created in: set it there
        try:
            return await function(*args, **kwargs)
        finally:
            exit_call(token)

    return run
