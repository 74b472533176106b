"""Writes a request does not wait for (hotline.state.deferred): sent in the background, in order,
one round trip for many, never lost to a Redis restart's empty script cache, bounded when Redis
is away, and each forked process with its own queue."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import redis

from hotline.state.client import TextRedis
from hotline.state.deferred import DeferredWrites
from tests.helpers import count_round_trips

APPEND = "redis.call('RPUSH', KEYS[1], ARGV[1]) return redis.call('LLEN', KEYS[1])"


@pytest.fixture
def r(redis_server, redis_db):
    return TextRedis.from_url(redis_server.url, decode_responses=True)


def test_queued_writes_reach_redis_in_the_background_within_the_interval(r):
    deferred = DeferredWrites(r, interval=0.05)
    script = r.register_script(APPEND)
    for n in range(3):
        deferred.submit(script, ["list"], [n])
    assert r.lrange("list", 0, -1) == []  # queued, not sent by the caller
    deadline = time.monotonic() + 5
    while r.llen("list") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.lrange("list", 0, -1) == ["0", "1", "2"]


def test_a_call_sent_now_leaves_after_the_queued_writes_about_the_same_thing(r):
    deferred = DeferredWrites(r, interval=3600)
    script = r.register_script(APPEND)
    trips = count_round_trips(r)
    script(keys=["list"], args=["warm"])  # the connection made, the script known to the server
    trips.clear()
    deferred.submit(script, ["list"], ["queued 1"], tag="texter A")
    deferred.submit(script, ["other"], ["queued 2"], tag="texter B")
    assert deferred.send(script, ["list"], ["now"], tag="texter A") == 3  # its own answer
    assert r.lrange("list", 0, -1) == ["warm", "queued 1", "now"]
    assert r.lrange("other", 0, -1) == ["queued 2"]  # the whole queue went with it
    assert len(trips) == 3, trips  # the send (one round trip), then the two reads above


def test_a_call_about_something_else_goes_alone_the_queue_left_to_the_background(r):
    deferred = DeferredWrites(r, interval=3600)
    script = r.register_script(APPEND)
    trips = count_round_trips(r)
    script(keys=["list"], args=["warm"])
    trips.clear()
    deferred.submit(script, ["other"], ["queued"], tag="texter B")
    assert deferred.send(script, ["list"], ["now"], tag="texter A") == 2
    assert r.lrange("other", 0, -1) == []  # still queued
    deferred.flush()
    assert r.lrange("other", 0, -1) == ["queued"]


def test_scripts_redis_forgot_are_loaded_again(r):
    deferred = DeferredWrites(r, interval=3600)
    script = r.register_script(APPEND)
    script(keys=["list"], args=["a"])
    r.script_flush()  # as after a restart without persistence of scripts
    deferred.submit(script, ["list"], ["b"])
    deferred.flush()
    assert r.lrange("list", 0, -1) == ["a", "b"]


def test_when_redis_is_away_a_batch_is_dropped_counted_and_the_queue_stays_bounded(r):
    away = TextRedis.from_url("redis://127.0.0.1:1/0", decode_responses=True,
                              socket_connect_timeout=0.2)
    deferred = DeferredWrites(away, interval=3600, limit=2)
    script = away.register_script(APPEND)
    for n in range(3):
        deferred.submit(script, ["list"], [n])
    assert deferred.dropped == 1  # the third: the queue was full
    with pytest.raises(redis.ConnectionError):
        deferred.flush()
    assert deferred.dropped == 3
    deferred.flush()  # nothing left to send: no error


def _child(deferred: DeferredWrites, script, results) -> None:  # runs in the forked process
    deferred.submit(script, ["list"], ["child"])
    deferred.flush()
    results.put("done")


def test_a_forked_process_sends_its_own_writes_never_its_parents(r):
    deferred = DeferredWrites(r, interval=3600)
    script = r.register_script(APPEND)
    deferred.submit(script, ["list"], ["parent"])  # queued in the parent at the fork
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_child, args=(deferred, script, results))
    child.start()
    assert results.get(timeout=10) == "done"
    child.join(10)
    assert r.lrange("list", 0, -1) == ["child"]
    deferred.flush()
    assert r.lrange("list", 0, -1) == ["child", "parent"]
