"""Live co-editing of notes: Yjs documents over the y-websocket protocol (docs/collab.md)."""
