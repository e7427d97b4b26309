"""Search settings as the search context sees them (built by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SearchConfig:
    backend: str = "embedded"  # embedded | mongodb
    embedder: str = "wordllama"  # wordllama | ollama
    rrf_k: int = 60
    lexical_weight: float = 1.0
    semantic_weight: float = 1.3
    candidates: int = 100  # per list, before fusion
    max_results: int = 100  # deepest page reachable with the cursor
    # Pseudo-relevance feedback in hybrid mode (retrieve.py); 0 documents turns it off.
    feedback_docs: int = 5
    feedback_terms: int = 20
    feedback_max_df: float = 0.05  # skip expansion terms held by more of the readable rows
    feedback_weight: float = 0.3  # of each expansion term, against 1 per query term
    feedback_vector_weight: float = 0.7  # Rocchio: query + this * mean feedback vector
