"""`atomic_writer` publishes whole files only, and sends what is written to disk while the rest is still being made."""

from __future__ import annotations

import os
import threading
import time

import pytest

from agentflan.data import jsonio
from agentflan.data.jsonio import atomic_writer, lines_text, sync_ahead


def writeback_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "agentflan-writeback"]


@pytest.fixture
def synced(monkeypatch):
    """The sizes the writer's file had each time the writeback thread synced it (thresholds made small)."""
    sizes: list[int] = []
    real = os.fdatasync

    def recording(fd: int) -> None:
        sizes.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(jsonio, "WRITEBACK_BYTES", 1 << 16)
    monkeypatch.setattr(jsonio, "WRITEBACK_EVERY_S", 0.005)
    monkeypatch.setattr(jsonio.os, "fdatasync", recording)
    return sizes


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_what_is_written_is_synced_before_the_writer_finishes(tmp_path, synced):
    path = tmp_path / "out.jsonl"
    lines = [b'{"i": %d, "text": "%s"}\n' % (i, b"x" * 200) for i in range(2000)]  # ~450 KiB
    with atomic_writer(path) as f:
        for line in lines[:1000]:
            f.write(line)
        f.flush()
        assert wait_for(lambda: synced), "nothing synced while the file was being written"
        assert not path.exists()  # nothing published yet
        for line in lines[1000:]:
            f.write(line)
    assert path.read_bytes() == b"".join(lines)
    assert 0 < synced[0] <= len(b"".join(lines[:1000]))  # synced before the second half was written
    assert not writeback_threads()  # stopped and joined before the file was closed


def test_what_the_writer_wrote_last_is_synced_ahead_while_it_validates(tmp_path, synced):
    """`sync_ahead`: the bytes written since the last writeback (less than `WRITEBACK_BYTES` of them) are synced in the
    background before the writer publishes the file, so that the final fsync finds them on disk."""
    path = tmp_path / "out.jsonl"
    tail = b"t" * 1000  # far under the threshold: without sync_ahead, only the final fsync writes it
    with atomic_writer(path) as f:
        f.write(tail)
        time.sleep(0.05)  # ten writeback rounds: nothing to sync
        assert synced == []
        sync_ahead(f)
        assert wait_for(lambda: synced == [len(tail)]), synced  # the whole file, before it is closed
        assert not path.exists()
    assert path.read_bytes() == tail and not writeback_threads()


def test_lines_text_ends_every_line():
    assert lines_text([b"{}", b'{"a": 1}']) == b'{}\n{"a": 1}\n' and lines_text([]) == b""


def test_a_small_file_is_written_without_a_writeback_sync(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(jsonio.os, "fdatasync", calls.append)
    with atomic_writer(tmp_path / "metrics.json") as f:
        f.write(b"{}\n")
    assert (tmp_path / "metrics.json").read_bytes() == b"{}\n" and calls == []


def test_a_failed_writer_publishes_nothing_and_stops_its_thread(tmp_path, synced):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"previous\n")
    with pytest.raises(RuntimeError, match="stage failed"), atomic_writer(path) as f:
        f.write(b"y" * (1 << 18))
        f.flush()
        assert wait_for(lambda: synced)
        raise RuntimeError("stage failed")
    assert path.read_bytes() == b"previous\n"
    assert not list(tmp_path.glob(".out.jsonl.*"))  # the temporary file is gone
    assert not writeback_threads()


def test_a_file_system_that_cannot_sync_early_leaves_the_write_to_the_final_fsync(tmp_path, synced, monkeypatch):
    def refusing(fd: int) -> None:
        synced.append(-1)
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(jsonio.os, "fdatasync", refusing)
    unhandled = []
    monkeypatch.setattr(threading, "excepthook", unhandled.append)
    with atomic_writer(tmp_path / "out.jsonl") as f:
        f.write(b"z" * (1 << 18))
        f.flush()
        assert wait_for(lambda: synced) and wait_for(lambda: not writeback_threads())  # tried once, then stopped
    assert (tmp_path / "out.jsonl").read_bytes() == b"z" * (1 << 18) and synced == [-1]
    assert not unhandled  # stopped quietly, not by an error
