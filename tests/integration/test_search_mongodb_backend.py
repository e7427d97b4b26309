"""SEARCH_BACKEND=mongodb against a server without mongot (SecantusDB here): the API answers
503 SEARCH_BACKEND_UNAVAILABLE with Retry-After (never a 500, never a silent fallback); the
`search create-indexes` command prints the definitions (`--dry-run`) and fails cleanly when
the server refuses them; chunk vectors are stored as BSON float32 vectors."""

from __future__ import annotations

import json
import uuid

import pytest
from bson.binary import VECTOR_SUBTYPE, Binary
from click.testing import CliRunner
from litestar.cli.main import litestar_group

from server import jobs
from server.search.documents import SearchChunk
from tests.helpers import assert_error, services
from tests.integration.groups_support import person
from tests.integration.notes_support import NOTES, new_note

pytestmark = pytest.mark.integration


async def test_mongodb_backend_without_mongot_answers_503_with_retry_after(app_factory):
    async with app_factory(search_backend="mongodb") as client:
        me = await person(client)
        note = await new_note(client, me, title="Zebra", body="The zebra sanctuary budget.")
        await jobs.index_note({"services": services(client)}, note_id=note["id"])
        stored = await SearchChunk.get_pymongo_collection().find_one({"note_id": {"$exists": 1}})
        assert isinstance(stored["vector"], Binary) and stored["vector"].subtype == VECTOR_SUBTYPE
        for mode in ("hybrid", "lexical", "semantic"):
            response = await client.get(
                "/api/v1/search", params={"q": "zebra", "mode": mode}, headers=me["headers"]
            )
            error = assert_error(response, 503, "SEARCH_BACKEND_UNAVAILABLE")
            assert response.headers["Retry-After"] == "30"
            assert error["details"][0]["backend"] == "mongodb"
        related = await client.get(f"{NOTES}/{note['id']}/related", headers=me["headers"])
        assert_error(related, 503, "SEARCH_BACKEND_UNAVAILABLE")
        # bad input is still a 422, before the backend is asked
        bad = await client.get("/api/v1/search", params={"q": " "}, headers=me["headers"])
        assert_error(bad, 422, "INVALID_QUERY")


def _run(env: dict[str, str], *args: str):
    return CliRunner().invoke(
        litestar_group, ["--app", "server.app:create_app", *args], env=env, catch_exceptions=False
    )


def test_create_indexes_command(mongo_url, redis_url):
    env = {
        "MONGODB_URL": mongo_url,
        "MONGODB_DB": f"cli_{uuid.uuid4().hex[:10]}",
        "REDIS_URL": redis_url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    dry = _run(env, "search", "create-indexes", "--dim", "768", "--dry-run")
    assert dry.exit_code == 0, dry.output
    text, vector = json.loads(dry.output)
    assert text["name"] == "search_chunks_text"
    assert vector["definition"]["fields"][0]["numDimensions"] == 768
    default = json.loads(_run(env, "search", "create-indexes", "--dry-run").output)
    assert default[1]["definition"]["fields"][0]["numDimensions"] == 256  # wordllama
    refused = _run(env, "search", "create-indexes")
    assert refused.exit_code == 1
    assert "mongot" in refused.output
