"""`search` CLI commands: create the Atlas / mongot search indexes of the `mongodb` backend.

litestar --app server.app:create_app search create-indexes [--dim N] [--dry-run]
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from litestar import Litestar
from pymongo.errors import OperationFailure
from pymongo.operations import SearchIndexModel

from server.search.documents import SearchChunk
from server.search.index_mongodb import index_definitions
from server.settings import Settings
from server.wallet.cli import RunOpened


def default_dim(settings: Settings) -> int:
    """The embedder's vector size: wordllama 256, Ollama `OLLAMA_EMBED_DIM`."""
    return settings.ollama_embed_dim if settings.embedder == "ollama" else 256


async def create_search_indexes(dim: int) -> list[str]:
    """createSearchIndexes on `search_chunks` (the collection must exist first)."""
    coll = SearchChunk.get_pymongo_collection()
    models = [
        SearchIndexModel(definition=d["definition"], name=d["name"], type=d["type"])
        for d in index_definitions(dim)
    ]
    return list(await coll.create_search_indexes(models))


def register_search_cli(cli: click.Group, run_opened: RunOpened) -> None:
    @cli.group(name="search", help="Search over notes (issue 13).")
    def search() -> None:
        pass

    @search.command(
        name="create-indexes",
        help="Create the search and vector indexes of SEARCH_BACKEND=mongodb (mongot needed).",
    )
    @click.option("--dim", type=int, default=None, help="Vector size (default: the embedder's).")
    @click.option("--dry-run", is_flag=True, help="Print the index definitions, create nothing.")
    def create_indexes(app: Litestar, dim: int | None, dry_run: bool) -> None:
        size = dim or default_dim(app.state["settings"])
        if size < 1:
            click.echo("error: --dim must be a positive number", err=True)
            sys.exit(2)
        if dry_run:
            click.echo(json.dumps(index_definitions(size), indent=2))
            return

        async def _work() -> Any:
            return await create_search_indexes(size)

        try:
            names = run_opened(app, _work)
        except OperationFailure as exc:
            click.echo(f"error: the server refused the search indexes: {exc}", err=True)
            click.echo("(needs MongoDB Atlas or Community 8.2+ with mongot)", err=True)
            sys.exit(1)
        click.echo(f"created search indexes on search_chunks: {', '.join(names)} (dim {size})")
