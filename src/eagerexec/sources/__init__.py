"""Token sources: where the streamed code comes from (a replay, an OpenAI-compatible endpoint,
any iterator). All implement ``Source``: async iteration of code deltas, ``stats`` and
``aclose()``."""

from typing import TYPE_CHECKING

from ._base import Source, StreamStats, as_source
from ._fences import FenceExtractor
from ._jsonargs import JsonStringExtractor
from .iterable import IterableSource
from .replay import ReplaySource, count_tokens, split_tokens

if TYPE_CHECKING:
    from .openai import OpenAISource

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
    # OpenAISource needs the ``openai`` extra: imported on first use only.
    if name == "OpenAISource":
        from .openai import OpenAISource

        return OpenAISource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
