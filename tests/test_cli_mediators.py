"""`hotline mediators add|list|disable` against the test Redis."""

from __future__ import annotations

from click.testing import CliRunner

from hotline.cli import main
from tests.helpers import SECRET


def test_add_list_disable(redis_server, redis_db, tmp_path):
    env = {"REDIS_URL": redis_server.url, "HOTLINE_SECRET_KEY": SECRET,
           "HOTLINE_VAR_DIR": str(tmp_path)}
    runner = CliRunner()
    added = runner.invoke(main, ["mediators", "add", "--login", "amina", "--name", "Amina B",
                                 "--languages", "fr,ar", "--phone", "0470 99 98 88",
                                 "--password", "correct horse battery"], env=env)
    assert added.exit_code == 0, added.output
    assert "added amina (mediator, fr, ar)" in added.output
    again = runner.invoke(main, ["mediators", "add", "--login", "amina", "--name", "x",
                                 "--languages", "fr", "--phone", "0470999888",
                                 "--password", "correct horse battery"], env=env)
    assert again.exit_code != 0 and "exists already" in again.output
    bad = runner.invoke(main, ["mediators", "add", "--login", "zed", "--name", "x",
                               "--languages", "xx", "--phone", "0470999888",
                               "--password", "correct horse battery"], env=env)
    assert bad.exit_code != 0 and "unknown language(s): xx" in bad.output
    listed = runner.invoke(main, ["mediators", "list"], env=env)
    assert "amina" in listed.output and "active" in listed.output
    assert "470" not in listed.output  # phones stay hidden
    stored = redis_db.hgetall("med:amina")
    assert b"470" not in stored[b"phone"] and stored[b"password"].startswith(b"$argon2")
    assert runner.invoke(main, ["mediators", "disable", "amina"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(main, ["mediators", "list"], env=env).output
