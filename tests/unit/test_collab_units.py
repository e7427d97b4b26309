"""Live editing without services: the y-websocket codec, REST edits placed onto live text,
awareness stamping and its clock rule."""

from __future__ import annotations

import json

import pytest
from bson import ObjectId
from pycrdt import Doc, Text

from realtime.collab import protocol as p
from realtime.collab.awareness import AwarenessStates, stamp
from realtime.collab.client import CollabClient
from realtime.collab.live_edits import apply_edits, rebase
from realtime.collab.room import seed_state, validate_update
from server.core.actor import Actor

pytestmark = pytest.mark.unit


def _actor(name: str = "ann") -> Actor:
    return Actor(user_id=ObjectId(), username=name, roles=frozenset(), auth_method="password")


def test_messages_round_trip():
    update = seed_state("T", "body")
    assert p.parse(p.sync_update(update)) == p.SyncUpdate(update, step2=False)
    assert p.parse(p.sync_step2(update)) == p.SyncUpdate(update, step2=True)
    assert p.parse(p.sync_step1(b"\x00")) == p.SyncStep1(b"\x00")
    entries = (p.AwarenessEntry(2**40, 3, '{"a":1}'), p.AwarenessEntry(7, 0, "null"))
    assert p.parse(p.awareness_message(entries)) == p.AwarenessUpdate(entries)
    assert p.parse(bytes([p.MSG_QUERY_AWARENESS])) == p.QueryAwareness()


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x09",  # unknown message type
        b"\x00\x07\x00",  # unknown sync type
        b"\x00\x02\x05ab",  # length past the end
        b"\x00\x02\x01a\xff",  # trailing bytes
        b"\x01\x03\x05\x01\x01",  # awareness entries past the end
        b"\x00\x02" + b"\xff" * 12,  # a number longer than lib0 allows
        b"\x01\x05\x01\x01\x01\x01\xff",  # awareness state not UTF-8
    ],
)
def test_malformed_frames_are_refused(frame: bytes):
    with pytest.raises(p.Malformed):
        p.parse(frame)


def test_an_update_that_parses_but_does_not_decode_is_refused():
    msg = p.parse(p.sync_update(b"\x01\x02garbage"))
    assert isinstance(msg, p.SyncUpdate)
    with pytest.raises(p.Malformed):
        validate_update(msg.update)
    validate_update(seed_state("a", "b"))


@pytest.mark.parametrize(
    ("old", "new", "current", "want"),
    [
        ("hello world", "hello brave world", "hello world", "hello brave world"),
        # live editors added text after the REST region: both kept
        ("hello world", "hi world", "hello world!!", "hi world!!"),
        # live editors added text before it: the REST edit shifts past theirs
        ("hello world", "hello earth", ">> hello world", ">> hello earth"),
        # same region: REST text goes before theirs, nothing of theirs is lost
        ("abc", "aXc", "aYc", "aXYc"),
        ("ä😀b", "ä😀Zb", "ä😀b", "ä😀Zb"),
        # a deletion spanning the live editors' text keeps theirs
        ("0123456789", "09", "01234YY56789", "0YY9"),
        ("same", "same", "same!", "same!"),
    ],
)
def test_rest_edits_are_placed_onto_the_live_text(old, new, current, want):
    doc: Doc = Doc()
    text = doc.get("body", type=Text)
    text.insert(0, current)
    apply_edits(text, current, rebase(old, new, current))
    assert str(text) == want


def test_awareness_is_stamped_with_the_verified_user():
    actor = _actor("ann")
    state = json.loads(stamp(json.dumps({"user": {"name": "mallory"}, "cursor": 3}), actor))
    assert state["user"]["name"] == "ann" and state["user"]["id"] == str(actor.user_id)
    assert state["user"]["color"].startswith("#") and state["cursor"] == 3


def test_awareness_clock_rule_and_socket_removal():
    states = AwarenessStates()
    one = CollabClient(_actor(), can_write=True, max_queue_bytes=1024)
    other = CollabClient(_actor("bob"), can_write=True, max_queue_bytes=1024)
    assert states.apply((p.AwarenessEntry(1, 2, "{}"),), one, 0.0)
    assert not states.apply((p.AwarenessEntry(1, 1, "{}"),), one, 0.0)  # older clock
    assert not states.apply((p.AwarenessEntry(1, 5, "{}"),), other, 0.0)  # not its id
    gone = states.remove_owner(one)
    assert gone == [p.AwarenessEntry(1, 3, "null")] and not states.peers
    states.apply((p.AwarenessEntry(9, 1, "{}"),), None, 0.0)
    assert states.expire(10.0, 30.0) == []
    assert states.expire(31.0, 30.0) == [p.AwarenessEntry(9, 2, "null")]
