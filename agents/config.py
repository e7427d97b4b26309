"""Configuration of the agents, handed in by the composition root (agents/ never reads settings)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AgentLimits:
    """Bounds on one run of an agent graph."""

    max_tool_steps: int = 6  # tool rounds (model -> tools -> model) per run
    tool_result_max_chars: int = 4000  # a tool result is trimmed to this before the model sees it
    context_messages: int = 40  # the newest messages of the conversation sent to the model


@dataclass(frozen=True, slots=True)
class AgentsConfig:
    ollama_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "llama3.1"
    # Per-agent model names ({"security": "qwen2.5:7b"}); the router is the agent "router".
    agent_models: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 3.0
    read_timeout: float = 120.0
    probe_timeout: float = 2.0
    temperature: float = 0.2
    router: str = "llm"  # "llm" (structured output, keyword fallback) or "keywords"
    router_timeout: float = 10.0
    messages_per_minute: int = 20
    max_message_chars: int = 10_000
    session_lock_seconds: int = 300
    limits: AgentLimits = field(default_factory=AgentLimits)

    def model_for(self, agent: str) -> str:
        return self.agent_models.get(agent) or self.ollama_model
