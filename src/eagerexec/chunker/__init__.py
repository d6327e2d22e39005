"""The chunker layer: a sans-IO state machine, text deltas in, complete top-level statements out.

No asyncio and no I/O here; everything above (pipeline, model, cli) consumes ``Chunk`` records.
"""

from ._chunker import Chunker
from ._events import Chunk, ChunkKind, SyntaxErrorInfo
from ._lines import count_line_breaks, split_lines

__all__ = ["Chunk", "ChunkKind", "Chunker", "SyntaxErrorInfo", "count_line_breaks", "split_lines"]
