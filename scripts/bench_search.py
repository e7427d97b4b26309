"""Search quality and speed on the shared MS MARCO subset (issue 13).

Quality: the 5,000 passages of `../shared/eval/msmarco-5k` become notes through the real api
(`POST /api/v1/notes`, one api process under uvicorn), are indexed by the worker's job
function `index_note` (what the SAQ worker runs for each note change), and the 43 judged
queries go through `GET /api/v1/search` in each mode. Printed: nDCG@10 and recall@10 for
lexical, semantic and hybrid, beside bm25s + numpy (wordllama) + plain RRF over the same
chunks with no API (the reference), and ingestion chunks/s.

Speed: the chunks are replicated to 50,000 across 3 spaces; the embedded index answers a
query over all three (embed the query, BM25, exact vectors, fusion) against the baseline
bm25s + numpy over the same 50k chunks, same run: p50/p95 and the ratio; plus the RSS the
index adds once loaded.

    .venv/bin/python scripts/bench_search.py [--eval ../shared/eval/msmarco-5k] [--chunks 50000]
      [--ollama-url http://host:11434]   # the same with EMBEDDER=ollama
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.api_process import FAST_HASHING, ApiProcess, api_env  # noqa: E402
from scripts.devservices import spawn_mongo, spawn_redis  # noqa: E402
from server.search.vectors import decode_vector  # noqa: E402

DB = "bench_search"
MODES = ("lexical", "semantic", "hybrid")


def load_eval(
    folder: Path,
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open()]
    queries = {}
    for line in (folder / "queries.jsonl").open():
        q = json.loads(line)
        queries[q["_id"]] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").open():
        parts = line.split()
        if len(parts) >= 3 and parts[2].isdigit():
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    judged = {q: t for q, t in queries.items() if any(v > 0 for v in qrels.get(q, {}).values())}
    return corpus, judged, qrels


def ndcg10(ranked: list[str], rel: dict[str, int]) -> float:
    dcg = sum((2 ** rel.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall10(ranked: list[str], rel: dict[str, int]) -> float:
    wanted = {d for d, v in rel.items() if v > 0}
    return len(wanted & set(ranked[:10])) / len(wanted)


def scores(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> tuple[float, float]:
    n = statistics.mean(ndcg10(r, qrels[q]) for q, r in runs.items())
    r = statistics.mean(recall10(r, qrels[q]) for q, r in runs.items())
    return n, r


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settings_env(mongo_url: str, redis_url: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "mongodb_url": mongo_url,
        "redis_url": redis_url,
        "mongodb_db": DB,
        "environment": "development",
        "log_level": "WARNING",
        "access_token_ttl_seconds": 86_400,
        "rate_limit_auth_per_ip_per_minute": 10**9,
        "rate_limit_register_per_ip_per_hour": 10**9,
        "notes_max_per_space": 100_000,
        **FAST_HASHING,
        **extra,
    }


async def ingest(base: str, corpus: list[dict[str, Any]]) -> tuple[str, dict[str, str], float]:
    """Register one user and create every passage as a note over HTTP (4 clients)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        reg = await http.post(
            "/api/v1/auth/register",
            json={"username": "bench", "email": "bench@example.com", "password": "x" * 20},
        )
        assert reg.status_code == 201, reg.text
        headers = {"Authorization": f"Bearer {reg.json()['accessToken']}"}
        note_to_doc: dict[str, str] = {}
        queue = list(corpus)
        t0 = time.perf_counter()

        async def client() -> None:
            while queue:
                doc = queue.pop()
                title = doc.get("title") or f"Passage {doc['_id']}"
                for _ in range(5):  # concurrent creates in one space can exhaust tx retries
                    r = await http.post(
                        "/api/v1/notes", json={"title": title, "body": doc["text"]}, headers=headers
                    )
                    if r.status_code < 500:
                        break
                assert r.status_code == 201, r.text
                note_to_doc[r.json()["id"]] = doc["_id"]

        await asyncio.gather(*(client() for _ in range(4)))
        return headers["Authorization"], note_to_doc, time.perf_counter() - t0


async def query_api(
    base: str, auth: str, queries: dict[str, str], note_to_doc: dict[str, str]
) -> dict[str, dict[str, list[str]]]:
    runs: dict[str, dict[str, list[str]]] = {m: {} for m in MODES}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for mode in MODES:
            for qid, text in queries.items():
                r = await http.get(
                    "/api/v1/search",
                    params={"q": text, "mode": mode, "limit": 20},
                    headers={"Authorization": auth},
                )
                assert r.status_code == 200, r.text
                ranked: list[str] = []
                for hit in r.json()["hits"]:
                    doc = note_to_doc[hit["noteId"]]
                    if doc not in ranked:
                        ranked.append(doc)
                runs[mode][qid] = ranked
    return runs


def baseline_quality(
    chunks: list[dict[str, Any]], queries: dict[str, str], note_to_doc: dict[str, str]
) -> dict[str, dict[str, list[str]]]:
    """bm25s (stop words, Snowball) + wordllama vectors + RRF(k=60) over the same chunks."""
    import bm25s
    import Stemmer

    from server.search.embedders import WordLlamaEmbedder
    from server.search.fusion import rrf

    stemmer = Stemmer.Stemmer("english")
    texts = [f"{c['title']} {c['text']}" for c in chunks]
    docs = [note_to_doc[str(c["note_id"])] for c in chunks]
    bm = bm25s.BM25()
    bm.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
             show_progress=False)  # fmt: skip
    vectors = np.stack([decode_vector(c["vector"]) for c in chunks])
    embedder = WordLlamaEmbedder()
    runs: dict[str, dict[str, list[str]]] = {m: {} for m in MODES}
    for qid, text in queries.items():
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        rows, _ = bm.retrieve(tokens, k=100, show_progress=False)
        lex = [int(i) for i in rows[0]]
        sem = [int(i) for i in np.argsort(-(vectors @ embedder._embed([text])[0]))[:100]]
        fused = [i for i, _ in rrf([lex, sem], k=60)]
        for mode, ranked in (("lexical", lex), ("semantic", sem), ("hybrid", fused)):
            seen: list[str] = []
            for i in ranked:
                if docs[i] not in seen:
                    seen.append(docs[i])
            runs[mode][qid] = seen
    return runs


async def index_all(env: dict[str, Any], note_ids: list[str]) -> dict[str, float]:
    """Drain the backlog the api filled while the notes were created, with the worker's job
    `index_pending` (2 runs at once, as 2 worker slots would), then the same notes again
    with the old one-note-a-job path `index_note` (4 at a time) as the baseline."""
    from server import jobs
    from server.compose.build import open_services
    from server.search.documents import SearchChunk
    from server.search.indexer import PENDING_SET
    from server.settings import Settings

    services = await open_services(Settings(**env))
    try:
        ctx = {"services": services}
        await services.search.embedder.embed_query("load the model")  # once per worker
        backlog = await services.redis.scard(PENDING_SET)
        t0 = time.perf_counter()
        done = await asyncio.gather(*(jobs.index_pending(ctx) for _ in range(2)))
        batched_s = time.perf_counter() - t0
        chunks = sum(d["chunks"] for d in done)
        await SearchChunk.get_pymongo_collection().delete_many({})
        queue = list(note_ids)
        t0 = time.perf_counter()

        async def worker() -> None:
            while queue:
                await jobs.index_note(ctx, note_id=queue.pop())

        await asyncio.gather(*(worker() for _ in range(4)))
        per_note_s = time.perf_counter() - t0
        await SearchChunk.get_pymongo_collection().delete_many({})
        await services.redis.sadd(PENDING_SET, *note_ids)
        await asyncio.gather(*(jobs.index_pending(ctx) for _ in range(2)))  # as it was
        return {"backlog": backlog, "chunks": chunks, "batched_s": batched_s,
                "per_note_s": per_note_s}  # fmt: skip
    finally:
        await services.close()


async def speed(env: dict[str, Any], queries: list[str], target: int) -> dict[str, float]:
    """50k chunks in 3 spaces: the embedded index against bm25s + numpy, same chunks."""
    import bm25s
    import Stemmer
    from bson import ObjectId

    from server.compose.build import open_services
    from server.search.documents import SearchChunk
    from server.search.fusion import rrf
    from server.search.index_embedded import EmbeddedIndex
    from server.search.retrieve import Retriever
    from server.settings import Settings

    services = await open_services(Settings(**env))
    try:
        coll = SearchChunk.get_pymongo_collection()
        base = await coll.find({}, {"_id": 0}).to_list()
        spaces = [ObjectId() for _ in range(3)]
        copies = []
        i = 0
        while len(base) + len(copies) < target:
            c = dict(base[i % len(base)])
            c["chunk_id"] = f"copy{i}:{c['chunk_id']}"
            c["note_id"] = ObjectId()
            c["space_id"] = spaces[i % 3]
            copies.append(c)
            i += 1
        for k in range(0, len(copies), 2000):
            await coll.insert_many(copies[k : k + 2000])
        chunks = base + copies
        before = rss_mb()
        index = EmbeddedIndex(services.redis)
        t0 = time.perf_counter()
        await index.sync()
        load_s = time.perf_counter() - t0
        added = rss_mb() - before
        space_ids = [str(s) for s in spaces] + [str(base[0]["space_id"])]
        embedder = services.search.embedder

        retriever = Retriever(index, services.search.config)

        async def ours(q: str) -> None:
            await index.sync()
            retriever.rank(q, await embedder.embed_query(q), index.mask(space_ids))

        stemmer = Stemmer.Stemmer("english")
        bm = bm25s.BM25()
        bm.index(
            bm25s.tokenize([f"{c['title']} {c['text']}" for c in chunks], stopwords="en",
                           stemmer=stemmer, show_progress=False),
            show_progress=False,
        )  # fmt: skip
        vectors = np.stack([decode_vector(c["vector"]) for c in chunks])

        async def baseline(q: str) -> None:
            tokens = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
            rows, _ = bm.retrieve(tokens, k=100, show_progress=False)
            v = await embedder.embed_query(q)
            sem = np.argsort(-(vectors @ v))[:100]
            rrf([[int(x) for x in rows[0]], [int(x) for x in sem]], k=60)

        timings: dict[str, list[float]] = {"ours": [], "baseline": []}
        for _ in range(3):
            for name, fn in (("ours", ours), ("baseline", baseline)):
                for q in queries:
                    t = time.perf_counter()
                    await fn(q)
                    timings[name].append((time.perf_counter() - t) * 1000)
        out = {"chunks": len(chunks), "load_s": load_s, "rss_mb": added}
        for name, values in timings.items():
            values.sort()
            out[f"{name}_p50"] = values[len(values) // 2]
            out[f"{name}_p95"] = values[int(len(values) * 0.95)]
        return out
    finally:
        await services.close()


def in_memory(folder: Path, target: int) -> None:
    """The same index code with no database, API or worker: quality of each mode on the whole
    set, chunk+embed rate, and the 50k-chunk speed and RSS against bm25s + numpy. For
    machines where creating 5,000 notes through the API takes too long (SecantusDB)."""
    import bm25s
    import Stemmer

    from server.search.chunker import chunk_markdown, embed_text
    from server.search.config import SearchConfig
    from server.search.embedders import WordLlamaEmbedder
    from server.search.fusion import rrf
    from server.search.index_embedded import EmbeddedIndex
    from server.search.retrieve import Retriever

    corpus, queries, qrels = load_eval(folder)
    embedder = WordLlamaEmbedder()
    config = SearchConfig()
    embedder._embed(["load the model"])  # once per process, not part of the rate
    t0 = time.perf_counter()
    rows = [(d, c) for d in corpus for c in chunk_markdown(d["text"], title=f"Passage {d['_id']}")]
    vectors = embedder._embed(
        [embed_text(f"Passage {d['_id']}", c.heading_path, c.text) for d, c in rows]
    )
    rate = len(rows) / (time.perf_counter() - t0)
    spaces = ["s0", "s1", "s2"]
    index = EmbeddedIndex(None, dim=256)  # type: ignore[arg-type]  # no stream: no sync()
    before = rss_mb()
    docs = []
    for i in range(max(target, len(rows))):
        d, c = rows[i % len(rows)]
        doc = {
            "chunk_id": str(i), "note_id": d["_id"] if i < len(rows) else f"copy{i}",
            "space_id": "s0" if i < len(rows) else spaces[i % 3], "title": f"Passage {d['_id']}",
            "text": c.text, "start": c.start, "end": c.end,
            "vector": vectors[i % len(rows)].tobytes(),
        }  # fmt: skip
        index.add(doc)
        docs.append(doc)
    added = rss_mb() - before
    only_eval = index.mask(["s0"])
    only_eval[len(rows) :] = False
    runs: dict[str, dict[str, list[str]]] = {m: {} for m in MODES}
    retriever = Retriever(index, config)
    for qid, text in queries.items():
        vector = embedder._embed([text])[0]
        lex = retriever.rank(text, None, only_eval).lexical
        sem = retriever.rank(text, vector, only_eval, lexical=False).semantic
        fused = [i for i, _ in retriever.rank(text, vector, only_eval).fused]
        for mode, ranked in (("lexical", lex), ("semantic", sem), ("hybrid", fused)):
            seen: list[str] = []
            for i in ranked:
                if index.row(i).note_id not in seen:
                    seen.append(index.row(i).note_id)
            runs[mode][qid] = seen
    print(f"in memory: {len(rows)} chunks, chunk + embed {rate:.0f} chunks/s")
    for mode in MODES:
        n, r = scores(runs[mode], qrels)
        print(f"{mode:10s} nDCG@10 {n:.3f}  R@10 {r:.3f}")
    stemmer = Stemmer.Stemmer("english")
    bm = bm25s.BM25()
    bm.index(
        bm25s.tokenize([f"{x['title']} {x['text']}" for x in docs], stopwords="en",
                       stemmer=stemmer, show_progress=False),
        show_progress=False,
    )  # fmt: skip
    matrix = np.stack([vectors[i % len(rows)] for i in range(len(docs))])
    everything = index.mask([*spaces, "s0"])

    def ours(q: str) -> None:
        retriever.rank(q, embedder._embed([q])[0], everything)  # hybrid, with feedback

    def baseline(q: str) -> None:
        tokens = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)
        found, _ = bm.retrieve(tokens, k=100, show_progress=False)
        sem = np.argsort(-(matrix @ embedder._embed([q])[0]))[:100]
        rrf([[int(x) for x in found[0]], [int(x) for x in sem]], k=60)

    timings: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(3):
        for name, fn in (("ours", ours), ("baseline", baseline)):
            for q in queries.values():
                t = time.perf_counter()
                fn(q)
                timings[name].append((time.perf_counter() - t) * 1000)
    p95 = {}
    for name, values in timings.items():
        values.sort()
        p95[name] = values[int(len(values) * 0.95)]
        print(f"{name:8s} at {len(docs)} chunks: p50 {values[len(values) // 2]:.1f} ms, "
              f"p95 {p95[name]:.1f} ms")  # fmt: skip
    print(f"ratio p95 {p95['ours'] / p95['baseline']:.2f} (target <= 1.5 and <= 50 ms); "
          f"RSS added by the index {added:.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval" / "msmarco-5k"))
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=0, help="only the first N passages")
    parser.add_argument("--ollama-url", default="")
    parser.add_argument("--in-memory", action="store_true", help="no database, API or worker")
    args = parser.parse_args()
    if args.in_memory:
        in_memory(Path(args.eval), args.chunks)
        return
    corpus, queries, qrels = load_eval(Path(args.eval))
    if args.limit:
        corpus = corpus[: args.limit]
    variants: list[dict[str, Any]] = [{}]
    if args.ollama_url:
        variants.append({"embedder": "ollama", "ollama_url": args.ollama_url})

    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        mongo = spawn_mongo(Path(tmp) / "mongo")
        redis = spawn_redis(Path(tmp) / "redis")
        try:
            for n, extra in enumerate(variants):
                env = settings_env(mongo.url, redis.url, {**extra, "mongodb_db": f"{DB}{n}"})
                run_variant(env, corpus, queries, qrels, args.chunks if n == 0 else 0)
        finally:
            mongo.stop()
            redis.stop()


def run_variant(
    env: dict[str, Any],
    corpus: list[dict[str, Any]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    speed_chunks: int,
) -> None:
    logs = ROOT / ".data" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    process_env = api_env(
        env["mongodb_url"], env["redis_url"], env["mongodb_db"],
        **{k: v for k, v in env.items() if k not in ("mongodb_url", "redis_url", "mongodb_db")},
    )  # fmt: skip
    api = ApiProcess(process_env, log_path=logs / "api-search.log")
    try:
        api.wait_ready_sync()
        auth, note_to_doc, create_s = asyncio.run(ingest(api.base, corpus))
        ix = asyncio.run(index_all(env, list(note_to_doc)))
        t0 = time.perf_counter()
        runs = asyncio.run(query_api(api.base, auth, {"-": "warm up"}, note_to_doc))
        load_s = time.perf_counter() - t0  # the api's index loads the new chunks
        runs = asyncio.run(query_api(api.base, auth, queries, note_to_doc))
    finally:
        api.stop()
    embedder = env.get("embedder", "wordllama")
    chunks = ix["chunks"]
    print(f"EMBEDDER={embedder}: {len(corpus)} passages, {len(queries)} judged queries")
    print(
        f"notes created over HTTP: {len(corpus) / create_s:.0f} notes/s (the notes store, "
        f"one transaction a note); backlog {ix['backlog']:.0f} notes"
    )
    print(
        f"ingest (backlog -> chunked, embedded, stored, announced; then loaded by the api): "
        f"index_pending {chunks / ix['batched_s']:.0f} chunks/s ({chunks} chunks, "
        f"{ix['batched_s']:.1f} s), + api load {load_s:.1f} s = "
        f"{chunks / (ix['batched_s'] + load_s):.0f} chunks/s (target >= 200); baseline "
        f"index_note one note a job {chunks / ix['per_note_s']:.0f} chunks/s"
    )
    reference: dict[str, dict[str, list[str]]] = {}
    if embedder == "wordllama":
        from server.search.documents import SearchChunk

        async def load_chunks() -> list[dict[str, Any]]:
            from server.compose.build import open_services
            from server.settings import Settings

            services = await open_services(Settings(**env))
            try:
                return await SearchChunk.get_pymongo_collection().find({}).to_list()
            finally:
                await services.close()

        reference = baseline_quality(asyncio.run(load_chunks()), queries, note_to_doc)
    print(f"{'mode':10s} {'nDCG@10':>8s} {'R@10':>6s}   reference (bm25s/numpy/RRF, no API)")
    for mode in MODES:
        n, r = scores(runs[mode], qrels)
        ref = "  ".join(f"{x:.3f}" for x in scores(reference[mode], qrels)) if reference else ""
        print(f"{mode:10s} {n:8.3f} {r:6.3f}   {ref}")
    if speed_chunks:
        s = asyncio.run(speed(env, list(queries.values()), speed_chunks))
        print(
            f"speed at {s['chunks']} chunks in 3 spaces: ours p50 {s['ours_p50']:.1f} ms "
            f"p95 {s['ours_p95']:.1f} ms; baseline (bm25s + numpy) p50 "
            f"{s['baseline_p50']:.1f} ms p95 {s['baseline_p95']:.1f} ms; ratio p95 "
            f"{s['ours_p95'] / s['baseline_p95']:.2f} (target <= 1.5 and <= 50 ms)"
        )
        print(f"index load {s['load_s']:.1f} s, RSS added by the index {s['rss_mb']:.0f} MB")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging

    for name in ("httpx", "bm25s", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    main()
