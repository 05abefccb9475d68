"""DumpScanner: per-table counts and checksums from a plain dump, in any chunking."""

from __future__ import annotations

import hashlib
import random

import pytest

from pytest_prodcheck.backup.scan import DumpScanner

DUMP = (
    b"--\n-- Dumped from database version 15.20 (Debian)\n"
    b"-- Dumped by pg_dump version 15.20 (Debian)\n\n"
    b"CREATE TABLE public.t (id int, s text);\n"
    b"COPY public.t (id, s) FROM stdin;\n"
    b"1\tplain\n2\t\\\\.not a terminator\n3\t\\N\n"
    b"\\.\n\n"
    b'COPY public."Mixed Case" (k) FROM stdin;\n'
    b"\\.\n"
    b"COPY public.u (x) FROM stdin;\n"
    b"x\\.y\n"
    b"\\.\n"
    b"SELECT pg_catalog.setval('public.t_id_seq', 3, true);\n"
)


def _scan(data: bytes, sizes: list[int] | None = None) -> DumpScanner:
    s = DumpScanner()
    pos = 0
    for n in sizes or [len(data)]:
        s.feed(data[pos : pos + n])
        pos += n
    s.feed(data[pos:])
    s.close()
    return s


def test_counts_checksums_and_versions():
    s = _scan(DUMP)
    assert s.complete
    assert s.server_version == "15.20 (Debian)"
    assert s.pg_dump_version == "15.20 (Debian)"
    assert {n: t.rows for n, t in s.tables.items()} == {
        "public.t": 3,
        'public."Mixed Case"': 0,
        "public.u": 1,
    }
    block = b"1\tplain\n2\t\\\\.not a terminator\n3\t\\N\n"
    assert s.tables["public.t"].sha256 == hashlib.sha256(block).hexdigest()
    assert s.tables['public."Mixed Case"'].sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("seed", range(40))
def test_any_chunking_gives_the_same_result(seed: int):
    rng = random.Random(seed)
    sizes = [rng.randint(1, 7) for _ in range(len(DUMP))]
    assert _scan(DUMP, sizes).tables == _scan(DUMP).tables


def test_byte_by_byte():
    assert _scan(DUMP, [1] * len(DUMP)).tables == _scan(DUMP).tables


def test_changed_row_changes_only_that_table():
    other = _scan(DUMP.replace(b"1\tplain", b"1\tPlain"))
    base = _scan(DUMP)
    assert other.tables["public.t"].sha256 != base.tables["public.t"].sha256
    assert other.tables["public.u"] == base.tables["public.u"]


def test_truncated_inside_copy_is_incomplete():
    cut = DUMP.index(b"3\t\\N")
    s = _scan(DUMP[:cut])
    assert not s.complete
    assert "public.t" not in s.tables
