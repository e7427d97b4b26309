"""Which API-token scope each registry tool needs (its area, read or write).

The manager behind a tool checks its own scopes too; this map lets MCP refuse a call up
front, as a tool error naming the missing scope, and lets `tools/list` say what each tool
needs. Security tools need a full login session (the managers refuse API tokens).
"""

from __future__ import annotations

from agents.tools.registry import ToolSpec

# area -> (scope for reading, scope for changing)
AREA_SCOPES: dict[str, tuple[str, str]] = {
    "wallet": ("wallet:read", "wallet:transfer"),
    "shop": ("shop:read", "shop:purchase"),
    "family": ("families:read", "families:write"),
    "workspace": ("workspaces:read", "workspaces:write"),
    "notes": ("notes:read", "notes:write"),
    "personal": ("notifications:read", "notifications:write"),
}


def tool_scope(spec: ToolSpec) -> str | None:
    """The scope a token needs for `spec`; None when only a login session may use it."""
    pair = AREA_SCOPES.get(spec.area)
    if pair is None:
        return None
    return pair[1] if spec.mutating else pair[0]
