"""Voice names its sources (issue 13 part 5): a knowledge answer with citations is spoken
without its `[n]` markers and ends with "Sources: <title>, <title>" (LiveKit AgentSession in
text mode, the LangGraph agent with a scripted model on the real managers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from livekit.agents import AgentSession

from agents.scripted import ScriptedLLMFactory, call, reply
from agents.voice.llm import VoiceGraphLLM
from agents.voice.session import VoiceAgent
from server import jobs
from tests.agents_support import use_script
from tests.helpers import register, services
from tests.integration.notes_support import new_note
from tests.voice_support import LIVEKIT, start_voice, voice_turns

pytestmark = pytest.mark.integration
ANSWER = "Forty thousand euros [{z}] and a new roof [{b}], as I said [{z}] [7]."


async def spoken_answer(client: Any, user: dict[str, Any], text: str) -> str:
    voice = await start_voice(client, user, agent="knowledge")
    turns = voice_turns(client, voice)
    session: AgentSession[Any] = AgentSession(llm=VoiceGraphLLM(turns))
    await session.start(VoiceAgent())
    try:
        result: Any = await session.run(user_input=text)
        message = result.expect.next_event().is_message(role="assistant")
        return message.event().item.text_content or ""
    finally:
        await session.aclose()
        await turns.aclose()


async def test_spoken_answer_names_its_sources_by_title(app_factory):
    async with app_factory(**LIVEKIT) as client:
        me = await register(client)
        for title, body in (
            ("Zebra budget", "The zebra sanctuary budget is forty thousand euros.\n"),
            ("Barn", "The llama barn needs a new roof before winter.\n"),
        ):
            note = await new_note(client, me, title=title, body=body)
            await jobs.index_note({"services": services(client)}, note_id=note["id"])
        use_script(
            client,
            ScriptedLLMFactory(
                [
                    call("notes_search", {"query": "zebra budget llama barn roof", "limit": 2}),
                    lambda messages: ANSWER.format(**_numbers(messages[-1].content)),
                ]
            ),
        )
        spoken = await spoken_answer(client, me, "what did I write about zebras and the barn?")
    assert "[" not in spoken
    assert spoken.startswith("Forty thousand euros and a new roof, as I said.")
    assert spoken.endswith("Sources: Zebra budget, Barn")


async def test_an_answer_without_citations_names_no_sources(app_factory):
    async with app_factory(**LIVEKIT) as client:
        me = await register(client)
        use_script(client, ScriptedLLMFactory([reply("Your notes say nothing about that [1].")]))
        spoken = await spoken_answer(client, me, "what did I write about volcanoes?")
    assert spoken == "Your notes say nothing about that."


def _numbers(result: str) -> dict[str, int]:
    """The source numbers the search gave each note."""
    hits = json.loads(result)["hits"]
    by_title = {h["title"]: h["source"] for h in hits}
    return {"z": by_title["Zebra budget"], "b": by_title["Barn"]}
