"""The MCP server: the agent tool registry, resources and prompts over the Model Context
Protocol (streamable HTTP at `/mcp`), per user, scoped, with approvals (docs/mcp.md)."""
