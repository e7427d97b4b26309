"""Configuration of the MCP server, handed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

METADATA_PATH = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True, slots=True)
class McpConfig:
    enabled: bool = True
    # The canonical URL of the MCP endpoint (RFC 9728 `resource`, RFC 8707 audience).
    resource_url: str = "http://localhost:8000/mcp"
    # The authorization server(s) that issue our tokens: this api itself.
    authorization_server: str = "http://localhost:8000"
    elicitation_timeout_seconds: float = 120.0
    tool_result_max_chars: int = 20_000

    @property
    def metadata_url(self) -> str:
        """Where the protected-resource metadata lives (RFC 9728 section 3.1: the well-known
        path inserted between the host and the resource's path)."""
        parts = urlsplit(self.resource_url)
        path = parts.path.rstrip("/")
        return f"{parts.scheme}://{parts.netloc}{METADATA_PATH}{path}"
