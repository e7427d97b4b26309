"""The tool registry over the managers: importing this package registers every tool."""

from agents.tools import groups, memory, notes, personal, security, shop, wallet  # noqa: F401
from agents.tools.registry import REGISTRY, ToolContext, ToolSpec

__all__ = ["REGISTRY", "ToolContext", "ToolSpec"]
