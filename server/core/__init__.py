"""The ground floor: errors, wire base types, the database, the clock, channel names, the actor.

Nothing here imports anything else of the project, so every layer above may import it.
"""
