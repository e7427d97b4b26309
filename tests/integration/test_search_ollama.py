"""EMBEDDER=ollama (issue 13): langchain-ollama's client against an Ollama-protocol
stand-in over real HTTP (`/api/embed`), including a timeout, after which notes stay
searchable lexically and queries say `degraded`."""

from __future__ import annotations

import pytest

from server import jobs
from server.search.embedders import EmbedderUnavailable, OllamaEmbedder
from tests.agents_support import Served
from tests.e2e.ollama_standin import EMBED_DIM, OllamaStandIn
from tests.helpers import services
from tests.integration.groups_support import person
from tests.integration.notes_support import new_note

pytestmark = pytest.mark.integration


async def test_ollama_embedder_batches_and_times_out():
    standin = OllamaStandIn([])
    async with Served(standin) as served:
        embedder = OllamaEmbedder(base_url=served.url, read_timeout=0.5, batch_size=2)
        vectors = await embedder.embed_documents(["red apple", "green apple", "blue sky"])
        assert vectors.shape == (3, EMBED_DIM)
        assert standin.embed_inputs == [["red apple", "green apple"], ["blue sky"]]
        assert abs(float(vectors[0] @ vectors[0]) - 1.0) < 1e-5  # unit length
        standin.embed_delay = 2.0
        with pytest.raises(EmbedderUnavailable):
            await embedder.embed_query("slow")


async def test_ollama_down_leaves_notes_searchable_lexically(app_factory):
    standin = OllamaStandIn([])
    async with (
        Served(standin) as served,
        app_factory(
            embedder="ollama",
            ollama_url=served.url,
            ollama_embed_dim=EMBED_DIM,
            ollama_embed_timeout_seconds=0.5,
        ) as client,
    ):
        me = await person(client)
        note = await new_note(client, me, title="Fruit", body="Apples and pears in autumn.")
        ok = await jobs.index_note({"services": services(client)}, note_id=note["id"])
        assert ok["embedded"] == 1
        page = await client.get(
            "/api/v1/search", params={"q": "apples pears"}, headers=me["headers"]
        )
        assert page.json()["mode"] == "hybrid" and page.json()["hits"]
        standin.embed_delay = 2.0  # Ollama hangs: every call times out
        other = await new_note(client, me, title="Veg", body="Carrots and leeks in winter.")
        down = await jobs.index_note({"services": services(client)}, note_id=other["id"])
        assert down["embedded"] == 0
        page = await client.get("/api/v1/search", params={"q": "carrots"}, headers=me["headers"])
        body = page.json()
        assert page.status_code == 200 and body["degraded"] and body["mode"] == "lexical"
        assert [h["noteId"] for h in body["hits"]] == [other["id"]]
        ready = await client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        assert ready.json()["components"]["embeddings"]["status"] == "degraded"
