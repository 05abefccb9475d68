"""curl-style ``--resolve HOST:PORT:ADDR`` entries, with wildcards: one entry per address.

    >>> rmap = ResolveMap.parse(["*.shop.example.com:*:10.0.0.5", "shop.test:8443:127.0.0.1"])
    >>> rmap.lookup("www.shop.example.com", 443), rmap.lookup("shop.example.com", 80)
    ('10.0.0.5', '10.0.0.5')
    >>> rmap.lookup("shop.test", 8080)        # another port of a named host: that host's address
    '127.0.0.1'
    >>> rmap.lookup("other.test", 443) is None
    True
    >>> str(parse_resolve("api.shop.test:443:[::1]"))
    'api.shop.test:443:[::1]'

``HOST`` is a name, ``*.<domain>`` (the domain itself and every name under it) or ``*`` (every
name); ``PORT`` is a number or ``*`` (every port). The most specific entry wins: exact name and
port, then exact name on any port (``*`` or another port), then the longest matching wildcard.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, overload

from pytest_prodcheck.core.errors import ConfigError

ANY_PORT = 0


class ResolveEntry(NamedTuple):
    """One entry; ``port`` is :data:`ANY_PORT` (0) for ``*``. Unpacks as ``host, port, addr``."""

    host: str
    port: int
    addr: str

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*")

    def covers(self, host: str) -> bool:
        """True when this entry's host pattern matches ``host``."""
        host = host.lower().rstrip(".")
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            domain = self.host[2:]
            return host == domain or host.endswith("." + domain)
        return host == self.host

    def __str__(self) -> str:
        port = "*" if self.port == ANY_PORT else str(self.port)
        addr = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"{self.host}:{port}:{addr}"


def parse_resolve(entry: str, *, label: str = "--resolve") -> ResolveEntry:
    """``"shop.test:443:127.0.0.1"`` → ``ResolveEntry("shop.test", 443, "127.0.0.1")``.

    Bad input raises :class:`ConfigError` naming ``label`` and the expected form.
    """
    example = "e.g. shop.example.com:443:10.0.0.5 or '*.shop.example.com:*:10.0.0.5'"
    host, sep1, rest = entry.strip().partition(":")
    port_s, sep2, addr = rest.partition(":")
    if not (sep1 and sep2 and host and port_s and addr):
        raise ConfigError(
            f"{label} {entry!r}: expected HOST:PORT:ADDR as curl's --resolve, {example}"
        )
    host = host.lower().rstrip(".")
    if host != "*" and not _valid_pattern(host):
        raise ConfigError(
            f"{label} {entry!r}: {host!r} is not a host name, '*.<domain>' or '*' ({example})"
        )
    if port_s == "*":
        port = ANY_PORT
    elif port_s.isdigit() and 0 < int(port_s) < 65536:
        port = int(port_s)
    else:
        raise ConfigError(
            f"{label} {entry!r}: port {port_s!r} is not a number from 1 to 65535 or * "
            f"(HOST:PORT:ADDR, {example})"
        )
    addr = addr.strip("[]")
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        raise ConfigError(f"{label} {entry!r}: {addr!r} is not an IP address ({example})") from None
    return ResolveEntry(host, port, addr)


def _valid_pattern(host: str) -> bool:
    name = host[2:] if host.startswith("*.") else host
    labels = name.split(".")
    return bool(name) and all(
        0 < len(lb) <= 63 and all(c.isalnum() or c in "-_" for c in lb) for lb in labels
    )


@dataclass(frozen=True)
class ResolveMap:
    """Resolve entries, looked up as curl would (plus wildcards and "another port, same host")."""

    entries: tuple[ResolveEntry, ...] = ()

    @classmethod
    def parse(
        cls, entries: Iterable[str | ResolveEntry], *, label: str = "--resolve"
    ) -> ResolveMap:
        return cls(
            tuple(
                e if isinstance(e, ResolveEntry) else parse_resolve(e, label=label) for e in entries
            )
        )

    def lookup(self, host: str, port: int) -> str | None:
        """The address for ``host:port``, or None when no entry covers the host."""
        host = host.lower().rstrip(".")
        best: tuple[tuple[int, int, int], str] | None = None
        for e in self.entries:
            if not e.covers(host):
                continue
            exact_host = 0 if not e.wildcard else 1
            # a wildcard's specificity: longer domains first; '*' last
            width = -len(e.host) if e.wildcard else 0
            port_rank = 0 if e.port == port else 1 if e.port == ANY_PORT else 2
            rank = (exact_host, width, port_rank)
            if best is None or rank < best[0]:
                best = (rank, e.addr)
        return best[1] if best else None

    def address(self, host: str, port: int) -> str:
        """:meth:`lookup`, falling back to ``host`` itself (DNS)."""
        return self.lookup(host, port) or host

    def pinned(self, host: str) -> str | None:
        """The address some entry pins ``host`` to (any port), None when DNS decides."""
        return self.lookup(host, ANY_PORT)

    # -- the dict-like face older callers use: rmap.get((host, port), default) ------------------
    @overload
    def get(self, key: tuple[str, int]) -> str | None: ...
    @overload
    def get(self, key: tuple[str, int], default: str) -> str: ...
    @overload
    def get(self, key: tuple[str, int], default: str | None) -> str | None: ...

    def get(self, key: tuple[str, int], default: str | None = None) -> str | None:
        found = self.lookup(*key)
        return default if found is None else found

    def values(self) -> Iterator[str]:
        return iter(e.addr for e in self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __iter__(self) -> Iterator[ResolveEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


__all__ = ["ANY_PORT", "ResolveEntry", "ResolveMap", "parse_resolve"]
