"""Long-term memories of a user (issue 13 part 6): written only through `MemoryManager`,
announced with `memory.saved`, every change kept in the memory's history."""
