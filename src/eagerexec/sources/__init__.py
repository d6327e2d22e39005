"""Token sources: where the streamed code comes from (a replay, an OpenAI-compatible endpoint,
any iterator). All implement ``Source``: async iteration of code deltas, ``stats`` and
``aclose()``.

Importing this package is light: it needs neither ``openai`` (``OpenAISource`` is loaded on
first use, and needs the ``openai`` extra only when constructed) nor ``tiktoken`` (imported the
first time a text is tokenised). The modules import one another in one direction only:
``_base`` <- ``_iterable``, ``_replay``, ``_openai`` (<- ``_fences``, ``_jsonargs``).
"""

from typing import TYPE_CHECKING

from ._base import Source, StreamStats
from ._fences import FenceExtractor
from ._iterable import IterableSource, as_source
from ._jsonargs import JsonStringExtractor
from ._replay import ReplaySource, count_tokens, split_tokens

if TYPE_CHECKING:
    from ._openai import OpenAISource

__all__ = [
    "FenceExtractor",
    "IterableSource",
    "JsonStringExtractor",
    "OpenAISource",
    "ReplaySource",
    "Source",
    "StreamStats",
    "as_source",
    "count_tokens",
    "split_tokens",
]


def __getattr__(name: str) -> object:
    # OpenAISource is loaded on first use (its module is small; the SDK is imported when one
    # is constructed).
    if name == "OpenAISource":
        from ._openai import OpenAISource

        return OpenAISource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
