"""Eager execution inside agent frameworks: each adapter plugs eagerexec into the framework's own
extension point, behind its own extra (``eagerexec.integrations.pydantic_ai``, ``.openai_agents``,
``.langgraph``, ``.smolagents``). Importing this package is light: the adapters are modules loaded
on demand, and each imports its framework only when used. ``_common`` holds the shared code tool
(``CodeToolSession``).
"""

from ._common import CODE_SCHEMA, TOOL_DESCRIPTION, TOOL_NAME, CodeToolSession, ToolCall, format_result

__all__ = ["CODE_SCHEMA", "TOOL_DESCRIPTION", "TOOL_NAME", "CodeToolSession", "ToolCall", "format_result"]
