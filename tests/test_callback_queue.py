"""The callback queue: atomic takes, arrival order, expired claims, joins, attempts, retention."""

from __future__ import annotations

import threading

import pytest
import redis

from hotline.callbacks.queue import RETENTION_SECONDS, CallbackQueue, TicketError
from hotline.state.client import TextRedis


@pytest.fixture
def queue(redis_db: redis.Redis, redis_server) -> CallbackQueue:
    return CallbackQueue(TextRedis.connect(redis_server.url), claim_seconds=1200, max_attempts=3)


def open_ticket(queue: CallbackQueue, i: int, lang: str = "fr", now: float = 1000.0) -> str:
    ref, joined = queue.request(f"n{i}", f"enc{i}", lang, "cpas", now=now + i)
    assert not joined
    return ref


def test_twenty_threads_take_a_thousand_tickets_each_exactly_once(redis_server, queue):
    langs = ["fr", "nl", "en", "ar"]
    refs = {open_ticket(queue, i, langs[i % 4]) for i in range(1000)}
    assert len(refs) == 1000
    taken: list[str] = []
    lock = threading.Lock()

    def mediator(name: str) -> None:
        mine = CallbackQueue(TextRedis.connect(redis_server.url))
        while (ticket := mine.take_next(name, langs)) is not None:
            with lock:
                taken.append(ticket.ref)

    threads = [threading.Thread(target=mediator, args=(f"m{i}",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(refs)
    assert all(queue.get(ref).status == "claimed" for ref in refs)


def test_arrival_order_across_languages(queue):
    a = open_ticket(queue, 1, "nl")
    b = open_ticket(queue, 2, "fr")
    c = open_ticket(queue, 3, "nl")
    assert [queue.take_next("m", ["fr", "nl"]).ref for _ in range(3)] == [a, b, c]
    assert queue.take_next("m", ["fr", "nl"]) is None


def test_a_mediator_only_takes_their_languages(queue):
    open_ticket(queue, 1, "ar")
    assert queue.take_next("m", ["fr", "nl"]) is None
    assert queue.take_next("m", ["ar"]).lang == "ar"


def test_expired_claim_returns_to_its_original_place(queue):
    first, second, third = (open_ticket(queue, i) for i in range(3))
    claimed = queue.take_next("m1", ["fr"], now=2000)
    assert claimed.ref == first
    assert queue.waiting("fr") == [second, third]
    assert queue.expire_claims(now=2000 + 1199) == []
    assert queue.expire_claims(now=2000 + 1201) == [first]
    assert queue.waiting("fr") == [first, second, third]
    ticket = queue.get(first)
    assert ticket.status == "waiting" and ticket.mediator == ""
    assert [e["event"] for e in queue.history(first)] == ["requested", "claimed", "claim expired"]


def test_take_next_puts_overdue_claims_back_first(queue):
    first = open_ticket(queue, 1)
    open_ticket(queue, 2)
    queue.take_next("m1", ["fr"], now=2000)
    assert queue.take_next("m2", ["fr"], now=4000).ref == first


def test_a_second_request_from_the_same_number_joins_the_open_ticket(queue):
    ref, joined = queue.request("same", "enc", "fr", "cpas", now=1)
    again, joined_again = queue.request("same", "enc", "nl", "amu", now=2)
    assert (again, joined, joined_again) == (ref, False, True)
    assert queue.waiting("fr") == [ref] and queue.waiting("nl") == []
    queue.take_next("m", ["fr"])
    assert queue.request("same", "enc", "fr", "x", now=3) == (ref, True)
    queue.close(ref, "reached", "m")
    new, joined = queue.request("same", "enc", "fr", "cpas", now=4)
    assert new != ref and not joined


def test_no_answer_three_times_makes_it_unreachable(queue):
    ref = open_ticket(queue, 1)
    for attempt in (1, 2):
        assert queue.take_next("m", ["fr"]).ref == ref
        assert queue.close(ref, "no_answer", "m") == "waiting"
        assert queue.get(ref).attempts == attempt
        assert queue.waiting("fr") == [ref]
    queue.take_next("m", ["fr"])
    assert queue.close(ref, "no_answer", "m") == "unreachable"
    assert queue.waiting("fr") == []
    assert 0 < queue.r.ttl(f"cb:ticket:{ref}") <= RETENTION_SECONDS
    assert queue.open_ticket_of("n1") is None


def test_only_the_claimant_closes_and_closed_stays_closed(queue):
    ref = open_ticket(queue, 1)
    queue.take_next("m1", ["fr"])
    with pytest.raises(TicketError, match="not claimed by you"):
        queue.close(ref, "reached", "m2")
    assert queue.close(ref, "referred", "m1") == "done"
    with pytest.raises(TicketError, match="ticket is done"):
        queue.close(ref, "reached", "m1")
    with pytest.raises(TicketError, match="unknown ticket"):
        queue.close("000000", "reached", "m1")


def test_cancel_removes_a_waiting_ticket(queue):
    ref = open_ticket(queue, 1)
    assert queue.close(ref, "cancelled") == "cancelled"
    assert queue.waiting("fr") == [] and queue.open_ticket_of("n1") is None


def test_stats_count_waiting_and_oldest_wait(queue):
    open_ticket(queue, 1, "fr", now=100)
    open_ticket(queue, 2, "fr", now=100)
    assert queue.stats(["fr", "nl"], now=200) == {"fr": (2, 99.0), "nl": (0, 0.0)}


def test_notes_and_voice_are_in_the_history(queue):
    ref = open_ticket(queue, 1)
    queue.add_note(ref, "m1", "called, left a message")
    queue.attach_voice(ref, "https://api.twilio.com/x/Recordings/RE1")
    events = queue.history(ref)
    assert events[1]["text"] == "called, left a message" and events[1]["by"] == "m1"
    assert queue.get(ref).voice.endswith("RE1")


def test_take_next_is_one_round_trip_expired_claims_included(queue):
    from tests.helpers import count_round_trips

    first = open_ticket(queue, 1)
    open_ticket(queue, 2)
    assert queue.take_next("m0", ["ti"]) is None  # loads the script into the server's cache
    trips = count_round_trips(queue.r)
    queue.r.ping()  # the new connection's handshake is not a take's
    trips.clear()
    taken = queue.take_next("m1", ["fr", "nl"], now=2000)
    assert taken is not None and taken.ref == first and taken.status == "claimed"
    assert taken.mediator == "m1" and taken.claimed_at == 2000
    assert len(trips) == 1, trips
    trips.clear()
    again = queue.take_next("m2", ["fr"], now=4000)  # m1's claim is overdue: back first
    assert again is not None and again.ref == first and again.mediator == "m2"
    assert len(trips) == 1, trips
