"""Token sources: where the streamed code comes from (a replay, an OpenAI-compatible endpoint,
any iterator). All implement ``Source``: async iteration of code deltas, ``stats`` and
``aclose()``."""

from ._base import Source, StreamStats, as_source
from ._fences import FenceExtractor
from ._jsonargs import JsonStringExtractor
from .iterable import IterableSource
from .openai import OpenAISource
from .replay import ReplaySource, count_tokens, split_tokens

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
