"""The agents: each a system prompt, a tool subset and routing keywords."""

from __future__ import annotations

from dataclasses import dataclass

_COMMON = (
    "You act for the user {username} through tools, with exactly their permissions. "
    "Use a tool whenever the answer depends on their data; never invent ids, balances or "
    "names. Tools that move money or destroy data ask the user for approval; if the user "
    "declines, say so and do nothing else. If a tool answers with an error, explain it "
    "plainly. Answer briefly, in the user's language."
)


CITE_RULE = (
    "When you answer from the user's notes, search them with notes_search first and cite "
    "every passage you use with its source number in square brackets, like [1], right after "
    "the sentence it supports; cite only numbers a search gave you. If the notes say nothing "
    "about it, say so plainly."
)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    name: str
    title: str
    description: str
    prompt: str
    tools: tuple[str, ...]
    keywords: tuple[str, ...]

    def system_prompt(self, username: str) -> str:
        cite = (
            f"\n\n{CITE_RULE}"
            if "notes_search" in self.tools and CITE_RULE not in self.prompt
            else ""
        )
        return f"{self.prompt}{cite}\n\n{_COMMON.format(username=username)}"


def _group_tools(kind: str) -> tuple[str, ...]:
    return tuple(
        f"{kind}_{n}"
        for n in (
            "list",
            "info",
            "members",
            "invitations",
            "invite",
            "wallet",
            "set_permissions",
            "freeze",
            "unfreeze",
            "token_request_create",
            "token_requests",
            "token_request_approve",
            "token_request_deny",
            "change_role",
        )
    )


KNOWLEDGE_TOOLS = (
    "notes_search",
    "notes_get",
    "notes_list",
    "memory_list",
    "memory_save",
    "memory_update",
)


NOTE_TOOLS = (
    "memory_list",
    "memory_save",
    "memory_update",
    "notes_search",
    "notes_list",
    "notes_get",
    "notes_create",
    "notes_update",
    "notes_append",
    "notes_tag",
    "notes_move",
    "notes_delete",
)

AGENTS: dict[str, AgentSpec] = {
    spec.name: spec
    for spec in (
        AgentSpec(
            name="personal",
            title="Personal assistant",
            description="Your own wallet, transfers to people, invitations and notifications.",
            prompt="You are the user's personal assistant for their own wallet, their "
            "transfers to other people, the invitations they received, their "
            "notifications and their notes (the second brain).",
            tools=(
                "wallet_balance",
                "wallet_history",
                "wallet_transfer",
                "invitations_received",
                "invitation_accept",
                "invitation_decline",
                "notifications_list",
                "family_list",
                "workspace_list",
                *NOTE_TOOLS,
            ),
            keywords=(
                "note",
                "send",
                "transfer",
                "pay",
                "balance",
                "my wallet",
                "tokens to",
                "invitation",
                "notification",
            ),
        ),
        AgentSpec(
            name="family",
            title="Family assistant",
            description="Families: members, invitations, the family wallet, freezes and "
            "token requests.",
            prompt="You are the family assistant: members, invitations, the family wallet, "
            "spending permissions, freezing the wallet and token requests.",
            tools=(
                *_group_tools("family"),
                "wallet_balance",
                "invitations_received",
                *NOTE_TOOLS,
            ),
            keywords=(
                "family",
                "mom",
                "dad",
                "kids",
                "parent",
                "sister",
                "brother",
                "freeze",
                "invite",
                "accepted",
            ),
        ),
        AgentSpec(
            name="workspace",
            title="Workspace assistant",
            description="Workspaces (teams): members, roles, the team wallet and token requests.",
            prompt="You are the workspace (team) assistant: members and roles, invitations, "
            "the team wallet and token requests.",
            tools=(
                *_group_tools("workspace"),
                "wallet_balance",
                "invitations_received",
                *NOTE_TOOLS,
            ),
            keywords=("workspace", "team", "colleague", "project", "editor", "viewer", "role"),
        ),
        AgentSpec(
            name="knowledge",
            title="Knowledge assistant",
            description="Answers from your notes (what you wrote about something), with "
            "sources, and what you asked to remember.",
            prompt="You are the user's knowledge assistant: you answer questions from their "
            "notes (the second brain) and the facts they asked you to remember. "
            + CITE_RULE
            + " When the user says 'remember that…', save it with memory_save.",
            tools=KNOWLEDGE_TOOLS,
            keywords=("my notes", "remember", "notes say", "knowledge"),
        ),
        AgentSpec(
            name="commerce",
            title="Shop assistant",
            description="The shop and what to pay with: balances of your and shared wallets.",
            prompt="You are the shop assistant: you help the user find and pay for items "
            "with their own or a shared wallet, and explain balances and history.",
            tools=(
                "shop_search",
                "shop_buy",
                "shop_inventory",
                "wallet_balance",
                "wallet_history",
                "family_list",
                "family_wallet",
                "workspace_list",
                "workspace_wallet",
            ),
            keywords=("buy", "shop", "theme", "avatar", "banner", "bundle", "rent", "purchase"),
        ),
        AgentSpec(
            name="security",
            title="Security assistant",
            description="Sessions, passkeys, two-factor status and recent security activity.",
            prompt="You are the security assistant: the user's signed-in sessions, "
            "passkeys, two-factor authentication status and recent security activity. You cannot "
            "change passwords or 2FA settings; tell the user where to do that.",
            tools=(
                "security_sessions",
                "security_revoke_session",
                "security_two_factor",
                "security_passkeys",
                "security_recent_activity",
            ),
            keywords=(
                "security",
                "session",
                "device",
                "login",
                "sign in",
                "2fa",
                "two-factor",
                "passkey",
                "password",
                "hacked",
            ),
        ),
    )
}

DEFAULT_AGENT = "personal"
