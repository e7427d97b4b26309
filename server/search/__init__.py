"""Search over notes: chunks with embeddings in MongoDB, hybrid lexical + semantic retrieval
restricted to the spaces the actor may read (issue 13)."""
