"""The knowledge agent answers from the user's notes with citations (issue 13 part 5): the
router sends "what did I write about…" to it, `[n]` markers become 1..k `citation` events
whose offsets slice the note body to exactly the cited chunk, the citations are stored with
the message, and a hit whose span no longer matches the note is never cited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.catalog import AGENTS
from agents.scripted import ScriptedLLMFactory, call, reply
from server import jobs
from server.search.chunker import chunk_markdown
from tests.agents_support import CHAT, decide, new_session, of, say, text_of, use_script
from tests.helpers import services
from tests.integration.groups_support import person
from tests.integration.notes_support import NOTES, new_note, patch_note

pytestmark = pytest.mark.integration

ZEBRA = (
    "# Finances\n\n## Zebra sanctuary\n\nThe quarterly budget for the zebra sanctuary is "
    "forty thousand euros, mostly for hay and fences.\n\n## Volunteers\n\n"
    + "Volunteers feed the zebras every morning and repair the fences on Sundays. " * 12
    + "\n"
)
LLAMA = "# Llama farm\n\nThe llama farm needs a new barn roof before the winter storms.\n"


async def indexed(client: Any, note: dict[str, Any]) -> None:
    await jobs.index_note({"services": services(client)}, note_id=note["id"])


def chunk_texts(title: str, body: str) -> dict[str, str]:
    """content hash -> chunk text, as the indexer cut the note."""
    return {c.content_hash: c.text for c in chunk_markdown(body, title=title)}


def test_knowledge_agent_has_the_search_tools_and_the_others_too():
    assert {"notes_search", "notes_get", "notes_list", "memory_save"} <= set(
        AGENTS["knowledge"].tools
    )
    for name in ("knowledge", "personal", "family", "workspace"):
        assert {"notes_search", "notes_get", "notes_list"} <= set(AGENTS[name].tools)
        assert "[1]" in AGENTS[name].system_prompt("me")
    assert "notes_search" not in AGENTS["commerce"].tools


async def test_answer_cites_its_sources_at_the_exact_offsets(client):
    me = await person(client)
    zebra = await new_note(client, me, title="Money", body=ZEBRA)
    llama = await new_note(client, me, title="Farm", body=LLAMA)
    await indexed(client, zebra)
    await indexed(client, llama)

    def answer(messages: list[Any]) -> str:
        """Cites the llama hit first (as its source number), then zebra, then nonsense."""
        hits = json.loads(messages[-1].content)["hits"]
        number: dict[str, int] = {}
        for hit in hits:  # the best hit of each note
            number.setdefault(hit["title"], hit["source"])
        return (
            f"The barn roof needs fixing [{number['Farm']}]. The zebra budget is forty "
            f"thousand euros [{number['Money']}], see also [{number['Farm']}] and [42]."
        )

    factory = use_script(
        client,
        ScriptedLLMFactory(
            per_agent={
                "knowledge": [
                    call("notes_search", {"query": "zebra sanctuary budget llama barn roof"}),
                    answer,
                ]
            }
        ),
    )
    sid = await new_session(client, me)  # routed: no fixed agent
    events = await say(client, me, sid, "What did I write about the zebra budget and the barn?")
    start = of(events, "message.start")[0]
    assert (start["agent"], start["routedBy"]) == ("knowledge", "keywords")
    assert factory.requested[-1] == "knowledge"
    text = text_of(events)
    assert text == (
        "The barn roof needs fixing [1]. The zebra budget is forty thousand euros [2], "
        "see also [1] and."
    )
    cites = of(events, "citation")
    assert [(c["index"], c["title"]) for c in cites] == [(1, "Farm"), (2, "Money")]
    # Each citation comes out before the first token that cites it.
    names = [name for name, _ in events]
    first_marker = next(i for i, (n, d) in enumerate(events) if n == "token" and "[1]" in d["text"])
    assert names.index("citation") < first_marker

    for cite, note in ((cites[0], llama), (cites[1], zebra)):
        body = (await client.get(f"{NOTES}/{note['id']}", headers=me["headers"])).json()["body"]
        chunk_hash = cite["chunkId"].split(":")[1]
        assert cite["noteId"] == note["id"]
        assert body[cite["start"] : cite["end"]] == chunk_texts(note["title"], body)[chunk_hash]
    assert "barn roof" in LLAMA[cites[0]["start"] : cites[0]["end"]]

    stored = (await client.get(f"{CHAT}/sessions/{sid}/messages", headers=me["headers"])).json()
    answer_message = stored["items"][0]
    assert answer_message["role"] == "assistant" and answer_message["content"] == text
    assert answer_message["citations"] == cites


async def test_a_stale_hit_is_not_cited_and_an_unreadable_twin_never_is(client):
    """The note changed after indexing (the worker has not run yet): the indexed span no
    longer holds the chunk's text, so the hit is left out instead of citing wrong offsets.
    A stranger's identical note never reaches the tool result nor a citation."""
    me = await person(client)
    stranger = await person(client)
    mine = await new_note(client, me, title="Money", body=ZEBRA)
    twin = await new_note(client, stranger, title="Money", body=ZEBRA)
    await indexed(client, mine)
    await indexed(client, twin)
    use_script(
        client,
        ScriptedLLMFactory(
            per_agent={
                "knowledge": [
                    call("notes_search", {"query": "zebra sanctuary budget"}),
                    reply("It is forty thousand euros [1]."),
                    call("notes_search", {"query": "zebra sanctuary budget"}),
                    reply("I found nothing current [1]."),
                ]
            }
        ),
    )
    sid = await new_session(client, me, agent="knowledge")
    events = await say(client, me, sid, "what do my notes say about the zebra budget?")
    result = json.loads(of(events, "tool.end")[0]["result"])
    assert {h["noteId"] for h in result["hits"]} == {mine["id"]}
    assert {c["noteId"] for c in of(events, "citation")} == {mine["id"]}

    edited = await patch_note(client, me, mine, body="Moved.\n\n" + ZEBRA)
    assert edited.status_code == 200, edited.text
    events = await say(client, me, sid, "and now?")
    result = json.loads(of(events, "tool.end")[0]["result"])
    assert result["hits"] == []
    assert of(events, "citation") == [] and text_of(events) == "I found nothing current."


async def test_a_follow_up_and_a_resumed_run_still_cite_earlier_searches(client):
    """Bug: sources were numbered per run, so an answer resumed after an approval, or a
    follow-up citing the previous turn's search, lost its citations. Earlier searches the
    model still sees are taken over (checked again against the note body: after an edit
    that moves the span, the old source is no longer cited)."""
    me = await person(client)
    zebra = await new_note(client, me, title="Money", body=ZEBRA)
    old = await new_note(client, me, title="Old idea", body="Nothing to see.\n")
    await indexed(client, zebra)
    use_script(
        client,
        ScriptedLLMFactory(
            per_agent={
                "personal": [
                    call("notes_search", {"query": "zebra sanctuary budget", "limit": 1}),
                    call("notes_delete", {"note_id": old["id"]}),
                    reply("Deleted the old idea; the budget is forty thousand euros [1]."),
                    reply("As I said, forty thousand [1]."),
                    reply("Still forty thousand [1]."),
                ]
            }
        ),
    )
    sid = await new_session(client, me, agent="personal")
    events = await say(client, me, sid, "what did I write about the zebra budget?")
    approval = of(events, "approval_required")[0]
    resumed = await decide(client, me, sid, approval["approvalId"], True)
    (cite,) = of(resumed, "citation")
    assert cite["noteId"] == zebra["id"] and cite["index"] == 1
    assert text_of(resumed).endswith("forty thousand euros [1].")

    follow_up = await say(client, me, sid, "how much was it again?")
    assert [c["chunkId"] for c in of(follow_up, "citation")] == [cite["chunkId"]]

    edited = await patch_note(client, me, zebra, body="Moved.\n\n" + ZEBRA)
    assert edited.status_code == 200, edited.text
    after_edit = await say(client, me, sid, "and now?")
    assert of(after_edit, "citation") == []
    assert text_of(after_edit) == "Still forty thousand."


async def test_knowledge_tools_refuse_another_familys_space_and_notes(client):
    """The knowledge agent's tools run as its user: another family's space is 404 for
    notes_search and notes_list, its note 404 for notes_get, and nothing is cited."""
    from tests.integration.groups_support import family_with
    from tests.integration.notes_support import space_of

    me = await person(client)
    admin, _, family_id = await family_with(client, members=0)
    theirs = await space_of(client, admin, "family", family_id)
    secret = await new_note(client, admin, title="Money", body=ZEBRA, spaceId=theirs["id"])
    await indexed(client, secret)
    use_script(
        client,
        ScriptedLLMFactory(
            per_agent={
                "knowledge": [
                    call("notes_search", {"query": "zebra budget", "space": theirs["id"]}),
                    call("notes_list", {"space": theirs["id"]}),
                    call("notes_get", {"note_id": secret["id"]}),
                    call("notes_search", {"query": "zebra sanctuary budget"}),
                    reply("Nothing [1]."),
                ]
            }
        ),
    )
    sid = await new_session(client, me, agent="knowledge")
    events = await say(client, me, sid, "what do my notes say about the zebra budget?")
    ends = of(events, "tool.end")
    assert [e["status"] for e in ends[:3]] == ["error", "error", "error"]
    assert "SPACE_NOT_FOUND" in ends[0]["result"] and "NOTE_NOT_FOUND" in ends[2]["result"]
    assert json.loads(ends[3]["result"])["hits"] == []
    assert "forty thousand" not in json.dumps(ends) and of(events, "citation") == []
