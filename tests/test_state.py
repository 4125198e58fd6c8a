"""State file: atomic commit, 0600, version, corrupt file moved aside, default location."""
from __future__ import annotations

import json
import os
import stat

import pytest

from trafficwatch.counting.state import State, StateStore, default_state_path
from trafficwatch.logs.identity import FileRecord


def sample_state() -> State:
    rec = FileRecord(1, 2, "ab" * 16, 1024, 4096, "cd" * 16, "/var/log/x/access.log")
    return State(["/var/log/x"], [rec], {"version": 1, "sites": {}})


def test_commit_then_load_round_trips(tmp_path):
    store = StateStore(tmp_path / "d" / "s.json")
    store.commit(sample_state())
    got = store.load()
    assert got.files == sample_state().files and got.counts == sample_state().counts
    assert got.paths == ["/var/log/x"] and got.version == 1


def test_state_file_is_private_and_leaves_no_temp_files(tmp_path):
    store = StateStore(tmp_path / "s.json")
    store.commit(sample_state())
    store.commit(sample_state())
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_missing_state_is_none_without_notice(tmp_path):
    store = StateStore(tmp_path / "nope.json")
    assert store.load() is None and store.notice == ""


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"version": 99}', b"\xff\xfe",
                                     (b'{"version": 1, "paths": [], "files": [{"dev": 1}], '
                                      b'"counts": {}}')])
def test_corrupt_or_incompatible_state_is_moved_aside_with_a_message(tmp_path, content):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    store = StateStore(path)
    assert store.load() is None
    aside = list(tmp_path.glob("s.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert not path.exists()
    assert str(aside[0]) in store.notice and "\n" not in store.notice


def test_only_the_newest_states_moved_aside_are_kept(tmp_path):
    # one moved aside at each start (a disk that corrupts it) filled the folder for ever
    path = tmp_path / "s[1].json"  # (a name glob would read as a pattern)
    for stamp in ("20991101T000000", "20991102T000000", "20991103T000000"):  # (stamps in
        # another time zone may sort after the one moved now: by when they were moved)
        path.with_name(f"{path.name}.corrupt-{stamp}").write_bytes(b"old " + stamp.encode())
    (tmp_path / "s1.json.corrupt-20261101T000000").write_bytes(b"another state's")
    (tmp_path / "s[1].json.unused-20261101T000000").write_bytes(b"another kind")
    path.write_bytes(b"{not json")
    assert StateStore(path).load() is None
    kept = sorted(p.name for p in tmp_path.glob("*.corrupt-*"))
    assert len(kept) == 4 and "s[1].json.corrupt-20991101T000000" not in kept, kept
    assert any(path.with_name(k).read_bytes() == b"{not json" for k in kept)  # the new one
    assert (tmp_path / "s1.json.corrupt-20261101T000000").exists()
    assert (tmp_path / "s[1].json.unused-20261101T000000").exists()


def test_a_failed_commit_keeps_the_previous_state(tmp_path, monkeypatch):
    store = StateStore(tmp_path / "s.json")
    store.commit(sample_state())

    def fail(self, tmp):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(StateStore, "_replace", fail)
    newer = sample_state()
    newer.counts = {"changed": True}
    with pytest.raises(OSError):
        store.commit(newer)
    assert store.load().counts == sample_state().counts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_default_location_follows_xdg_state_home_and_the_watched_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    a = default_state_path(["/var/log/nginx"])
    assert a.parent == tmp_path / "trafficwatch" and a.suffix == ".json"
    assert a == default_state_path(["/var/log/nginx"])
    assert a != default_state_path(["/var/log/apache2"])
    app, follow = (default_state_path(["/var/log/nginx"], k) for k in ("app", "follow"))
    assert len({a, app, follow}) == 3 and app.parent == a.parent  # they count differently
    monkeypatch.delenv("XDG_STATE_HOME")
    assert ".local/state/trafficwatch" in str(default_state_path(["/x"]))


def test_state_json_has_a_version_field(tmp_path):
    store = StateStore(tmp_path / "s.json")
    store.commit(sample_state())
    assert json.loads(store.path.read_bytes())["version"] == 1


def test_state_is_written_in_bounded_pieces_that_make_the_same_json():
    import json

    from trafficwatch.counting import state as st

    blob = "x" * 50_000
    obj = {"paths": ["/a"], "counts": {"series": {"sites": {
        f"s{i}": {"visitors": {str(h): blob for h in range(30)}, "hours": list(range(30)),
                  "int_keys": {1: 2}, "empty": {}, "none": None}
        for i in range(20)}}}, "v": 1.5, "ü": "é"}
    pieces = list(st.json_chunks(obj))
    assert b"".join(pieces) == json.dumps(obj, separators=(",", ":")).encode()
    assert len(pieces) > 20  # 30 MB of JSON, never encoded whole
    assert max(map(len, pieces)) <= st.WRITE_CHUNK + 2 * len(blob)
