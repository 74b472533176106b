"""The embedded Redis: a real server, loopback only, append-only, data kept across restarts."""

from __future__ import annotations

import redis

from hotline.state.store import EmbeddedRedis


def test_embedded_redis_persists_across_restart(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        config = client.config_get("*")
        assert config["appendonly"] == "yes"
        assert config["bind"] == "127.0.0.1"
        assert config["dir"] == str((tmp_path / "redis").resolve())
        client.set("ticket:test", "kept")
    finally:
        server.stop()
    assert server.process.returncode is not None
    again = EmbeddedRedis(tmp_path / "redis")
    again.start()
    try:
        assert redis.Redis.from_url(again.url).get("ticket:test") == b"kept"
    finally:
        again.stop()


def test_tests_use_a_private_server(redis_server):
    assert redis_server.port != 6379
    assert redis.Redis.from_url(redis_server.url).ping()
