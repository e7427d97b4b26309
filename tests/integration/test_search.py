"""Search (issue 13): hybrid search over notes with access control inside retrieval,
offsets that point at the note's text, incremental re-embedding and freshness between
processes through the index's change stream."""

from __future__ import annotations

from typing import Any

import pytest

from server import jobs
from server.search.index_embedded import EmbeddedIndex
from server.search.indexer import PENDING_SET
from tests.helpers import assert_error, services
from tests.integration.groups_support import family_with, person
from tests.integration.notes_support import NOTES, new_note, patch_note, space_of

pytestmark = pytest.mark.integration
SEARCH = "/api/v1/search"


async def indexed(client: Any, note: dict[str, Any]) -> dict[str, int]:
    """Run the worker's job for `note` (what the enqueued `index_note` does)."""
    return await jobs.index_note({"services": services(client)}, note_id=note["id"])


async def search(client: Any, user: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = await client.get(SEARCH, params=params, headers=user["headers"])
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


BUDGET = (
    "# Finances\n\n## Zebra sanctuary\n\nThe quarterly budget for the zebra sanctuary is "
    "forty thousand euros, mostly for hay and fences.\n"
)


async def test_every_mode_finds_the_note_and_offsets_point_at_its_text(client):
    me = await person(client)
    note = await new_note(client, me, title="Money", body=BUDGET, tags=["plans"])
    await new_note(client, me, title="Other", body="Nothing about animals here at all.")
    result = await indexed(client, note)
    assert result["chunks"] == 1 and result["embedded"] == 1
    body = (await client.get(f"{NOTES}/{note['id']}", headers=me["headers"])).json()["body"]
    for mode in ("hybrid", "lexical", "semantic"):
        page = await search(client, me, q="zebra sanctuary budget", mode=mode)
        assert page["mode"] == mode and not page["degraded"]
        hit = page["hits"][0]
        assert hit["noteId"] == note["id"] and hit["title"] == "Money"
        assert hit["headingPath"] == ["Finances", "Zebra sanctuary"]
        assert body[hit["start"] : hit["end"]].startswith("The quarterly budget")
        assert hit["chunkId"].startswith(note["id"] + ":")
    hybrid = await search(client, me, q="zebra budget")
    assert "<mark>zebra</mark>" in hybrid["hits"][0]["snippet"]
    assert set(hybrid["hits"][0]["retrievers"]) == {"lexical", "semantic"}
    tagged = await search(client, me, q="zebra", tag="plans", mode="lexical")
    assert [h["noteId"] for h in tagged["hits"]] == [note["id"]]
    assert (await search(client, me, q="zebra", tag="nope"))["hits"] == []


async def test_near_duplicate_in_an_unreadable_space_never_surfaces(client):
    """Access control inside retrieval: a stranger's near-duplicate note is neither returned
    nor counted, and does not even move the reader's scores (statistics are computed over
    the readable rows only), with a space filter or without."""
    me = await person(client)
    stranger = await person(client)
    admin, _, family_id = await family_with(client, members=0)
    mine = await new_note(client, me, title="Money", body=BUDGET)
    await indexed(client, mine)
    before = await search(client, me, q="zebra sanctuary budget hay", mode="lexical")

    for owner in (stranger, admin):
        twin = await new_note(client, owner, title="Money", body=BUDGET + "\nHay hay hay.\n")
        await indexed(client, twin)
    family_space = await space_of(client, admin, "family", family_id)
    await indexed(client, await new_note(client, admin, spaceId=family_space["id"], body=BUDGET))

    for mode in ("hybrid", "lexical", "semantic"):
        page = await search(client, me, q="zebra sanctuary budget hay", mode=mode)
        assert [h["noteId"] for h in page["hits"]] == [mine["id"]], mode
        assert page["nextCursor"] is None
    after = await search(client, me, q="zebra sanctuary budget hay", mode="lexical")
    assert after["hits"][0]["score"] == before["hits"][0]["score"]
    stranger_space = await space_of(client, stranger, "personal")
    for space in (stranger_space["id"], family_space["id"]):
        response = await client.get(
            SEARCH, params={"q": "zebra", "space": space}, headers=me["headers"]
        )
        assert_error(response, 404, "SPACE_NOT_FOUND")
    # The stranger sees their own twin, so the index really holds it.
    theirs = await search(client, stranger, q="zebra sanctuary")
    assert theirs["hits"] and all(h["noteId"] != mine["id"] for h in theirs["hits"])
    related = await client.get(f"{NOTES}/{mine['id']}/related", headers=stranger["headers"])
    assert_error(related, 404, "NOTE_NOT_FOUND")


async def test_editing_one_paragraph_re_embeds_one_chunk(client):
    me = await person(client)
    paragraphs = [f"Paragraph {i} about topic{i} " + "filler words here " * 60 for i in range(20)]
    body = "\n\n".join(f"## Part {i}\n\n{p}" for i, p in enumerate(paragraphs))
    note = await new_note(client, me, title="Long", body=body)
    first = await indexed(client, note)
    assert first["chunks"] == 20 and first["embedded"] == 20
    paragraphs[7] = paragraphs[7].replace("topic7", "platypus")
    new_body = "\n\n".join(f"## Part {i}\n\n{p}" for i, p in enumerate(paragraphs))
    assert (await patch_note(client, me, note, body=new_body)).status_code == 200
    second = await indexed(client, note)
    assert second == {"chunks": 20, "embedded": 1, "removed": 1}
    hit = (await search(client, me, q="platypus"))["hits"][0]
    assert hit["headingPath"] == ["Part 7"] and "platypus" in new_body[hit["start"] : hit["end"]]


async def test_a_second_process_index_follows_the_change_stream(client):
    """Two api processes each hold an index; the worker's change reaches both."""
    svc = services(client)
    me = await person(client)
    other = EmbeddedIndex(svc.redis)  # a second api process's index
    await other.sync()
    note = await new_note(client, me, title="Fresh", body="The wombat ate my homework.")
    await indexed(client, note)
    await other.sync()
    personal = await space_of(client, me, "personal")
    mask = other.mask([personal["id"]])
    rows = other.lexical("wombat homework", mask, 10)
    assert [other.row(i).note_id for i in rows] == [note["id"]]
    assert (await patch_note(client, me, note, body="Only kangaroos now.")).status_code == 200
    await indexed(client, note)
    await other.sync()
    assert other.lexical("wombat", other.mask([personal["id"]]), 10) == []
    deleted = await client.delete(f"{NOTES}/{note['id']}", headers=me["headers"])
    assert deleted.status_code == 204
    await indexed(client, note)
    await other.sync()
    assert other.lexical("kangaroos", other.mask([personal["id"]]), 10) == []


async def test_a_note_change_enqueues_its_indexing(client):
    svc = services(client)
    seen: list[list[str]] = []

    async def spy(ids: list[str]) -> None:
        seen.append(ids)

    svc.notes.store.change_hooks.append(spy)
    me = await person(client)
    note = await new_note(client, me, title="Queued", body="x")
    assert seen == [[note["id"]]]
    assert await svc.redis.sismember(PENDING_SET, note["id"])  # on the backlog
    jobs_queued = [await svc.redis.get(k) for k in await svc.redis.keys("saq:job:default:*")]
    assert any(b'"index_pending"' in (j or b"") for j in jobs_queued), jobs_queued


class CountingEmbedder:
    """Wraps the real embedder and counts its calls (one per batch, not one per note)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[int] = []

    async def embed_documents(self, texts: list[str]) -> Any:
        self.calls.append(len(texts))
        return await self.inner.embed_documents(texts)

    async def embed_query(self, text: str) -> Any:
        return await self.inner.embed_query(text)


async def test_index_pending_drains_the_backlog_in_batches_and_reembeds_only_changes(client):
    """Ingestion speed: the backlog of changed notes is indexed many notes per embedding
    call and bulk write, still re-embedding only chunks whose text changed."""
    svc = services(client)
    indexer = svc.search_indexer
    counting = CountingEmbedder(indexer.embedder)
    indexer.embedder = counting
    me = await person(client)
    notes = [
        await new_note(client, me, title=f"Animal {n}", body=f"The {name} lives in the zoo.")
        for n, name in enumerate(["okapi", "tapir", "quokka", "axolotl", "pangolin"])
    ]
    result = await indexer.index_pending(batch=3)
    assert result.chunks == 5 and result.embedded == 5
    assert counting.calls == [3, 2]  # two batches, one embedding call each
    assert await svc.redis.scard(PENDING_SET) == 0
    for note, name in zip(notes, ["okapi", "tapir", "quokka"], strict=False):
        page = await search(client, me, q=name, mode="lexical")
        assert [h["noteId"] for h in page["hits"]] == [note["id"]]
    counting.calls.clear()
    patched = await patch_note(client, me, notes[0], body="# Okapi\n\nMoved.\n\n" + "x " * 900)
    assert patched.status_code == 200, patched.text
    await new_note(client, me, title="Animal 5", body="The gecko lives in the zoo.")
    result = await indexer.index_pending()
    assert result.embedded == result.chunks == 3  # the okapi note now has two chunks
    assert counting.calls == [3]  # both notes in one embedding call
    counting.calls.clear()
    body = "# Okapi\n\nMoved again.\n\n" + "x " * 900
    assert (await patch_note(client, me, patched.json(), body=body)).status_code == 200
    result = await indexer.index_pending()
    assert (result.chunks, result.embedded, result.kept) == (2, 1, 1)  # only the changed one
    assert await indexer.index_pending() == type(result)()  # empty backlog: a no-op
    indexer.embedder = counting.inner


async def test_a_failed_batch_goes_back_on_the_backlog(client):
    svc = services(client)
    indexer = svc.search_indexer
    me = await person(client)
    note = await new_note(client, me, title="Kept", body="Nothing is lost.")

    class Broken(CountingEmbedder):
        async def embed_documents(self, texts: list[str]) -> Any:
            raise RuntimeError("boom")

    real = indexer.embedder
    indexer.embedder = Broken(real)
    try:
        with pytest.raises(RuntimeError):
            await indexer.index_pending()
    finally:
        indexer.embedder = real
    assert await svc.redis.sismember(PENDING_SET, note["id"])
    assert (await jobs.index_pending({"services": svc}))["chunks"] == 1


async def test_bad_queries_are_422(client):
    me = await person(client)
    assert_error(await client.get(SEARCH, params={"q": " "}, headers=me["headers"]), 422)
    bad_mode = await client.get(SEARCH, params={"q": "a", "mode": "x"}, headers=me["headers"])
    assert_error(bad_mode, 422, "INVALID_MODE")
    bad_cursor = await client.get(SEARCH, params={"q": "a", "cursor": "!!"}, headers=me["headers"])
    assert_error(bad_cursor, 422, "INVALID_CURSOR")


async def test_agent_notes_search_refuses_another_familys_space(client):
    """The agent's search runs as its user: another family's space is 404 and its notes
    never appear in an unscoped search either."""
    import json

    from agents.scripted import ScriptedLLMFactory, call, reply
    from tests.agents_support import new_session, of, say, use_script

    me = await person(client)
    admin, _, family_id = await family_with(client, members=0)
    theirs = await space_of(client, admin, "family", family_id)
    await indexed(client, await new_note(client, admin, spaceId=theirs["id"], body=BUDGET))
    mine = await new_note(client, me, title="Money", body=BUDGET)
    await indexed(client, mine)
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("notes_search", {"query": "zebra budget", "space": theirs["id"]}),
                call("notes_search", {"query": "zebra budget"}),
                reply("Found it [1]."),
            ]
        ),
    )
    sid = await new_session(client, me, agent="personal")
    ends = of(await say(client, me, sid, "what did I write about the zebra budget?"), "tool.end")
    assert ends[0]["status"] != "ok" and "SPACE_NOT_FOUND" in json.dumps(ends[0])
    assert ends[1]["status"] == "ok"
    assert [h["noteId"] for h in json.loads(ends[1]["result"])["hits"]] == [mine["id"]]
