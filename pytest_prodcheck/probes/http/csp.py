"""A Content-Security-Policy evaluator: which scripts may run, directive by directive.

    >>> report = evaluate_csp("default-src 'self'; object-src 'none'; base-uri 'self'")
    >>> report.ok, report.weaknesses
    (True, ())
    >>> bad = evaluate_csp("default-src 'self' data: 'unsafe-inline'")
    >>> [str(w) for w in bad.blocking]
    ["default-src (as script-src) data: lets any page inject a script as a data: URL", …]
    >>> bad.summary()
    "script-src falls back to default-src 'self' data: 'unsafe-inline': …"

What is judged, as Google's CSP Evaluator does:

* the *effective* ``script-src`` (``script-src``, else ``default-src``; ``script-src-elem`` and
  ``script-src-attr`` when set), and ``object-src`` (else ``default-src``);
* sources that let anyone's script in: ``*``, scheme sources (``https:``, ``http:``, ``data:``),
  ``'unsafe-inline'`` without a nonce or hash (with one, CSP2+ browsers ignore it), ``'unsafe-eval'``;
* ``'strict-dynamic'`` with a nonce/hash: host and scheme sources are then ignored by CSP3
  browsers (the usual backwards-compatible strict policy passes);
* a missing ``object-src`` (unless ``default-src`` restricts it) and a missing ``base-uri``
  (blocking when scripts are allowed by nonce/hash: an injected ``<base>`` re-points them).

A weakness is *blocking* when it lets an attacker's script run; the others (``blob:``, wildcard
hosts, plain-HTTP hosts, ``'unsafe-hashes'``, keywords missing their quotes…) are reported as notes.
Several policies (comma-joined or repeated headers) are all enforced: a script must pass each, so
the strictest decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# scheme sources that admit any script from anywhere (data: is inline script by another name)
_OPEN_SCHEMES = {"https:", "http:", "data:", "*"}
_NOTE_SCHEMES = {"blob:", "filesystem:", "ws:", "wss:"}
_NONCE = re.compile(r"^'nonce-[A-Za-z0-9+/_=-]+'$")
_HASH = re.compile(r"^'sha(256|384|512)-[A-Za-z0-9+/_=-]+'$")
_BARE_KEYWORDS = {
    "self",
    "none",
    "unsafe-inline",
    "unsafe-eval",
    "strict-dynamic",
    "unsafe-hashes",
    "report-sample",
    "wasm-unsafe-eval",
}
# directives of CSP Level 3 (unknown names are typos, reported as notes)
KNOWN_DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "font-src",
        "connect-src",
        "media-src",
        "object-src",
        "frame-src",
        "child-src",
        "worker-src",
        "manifest-src",
        "prefetch-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
        "sandbox",
        "report-uri",
        "report-to",
        "upgrade-insecure-requests",
        "block-all-mixed-content",
        "require-trusted-types-for",
        "trusted-types",
        "require-sri-for",
        "plugin-types",
        "navigate-to",
        "fenced-frame-src",
        "webrtc",
    }
)


@dataclass(frozen=True)
class Weakness:
    """One finding: the directive it is in, the source (or ``""``), why it matters."""

    directive: str
    source: str
    problem: str
    blocking: bool = True  # True: lets an attacker's script run

    def __str__(self) -> str:
        return f"{self.directive} {self.source} {self.problem}".replace("  ", " ")


@dataclass(frozen=True)
class Policy:
    """One parsed policy: directive name -> its source list (first occurrence wins)."""

    text: str
    directives: tuple[tuple[str, tuple[str, ...]], ...]
    duplicates: tuple[str, ...] = ()

    def get(self, name: str) -> tuple[str, ...] | None:
        for key, sources in self.directives:
            if key == name:
                return sources
        return None

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.directives)


def parse_policy(text: str) -> Policy:
    """``"default-src 'self'; img-src data:"`` → a :class:`Policy` (names lower-cased)."""
    seen: dict[str, tuple[str, ...]] = {}
    dups: list[str] = []
    for part in text.split(";"):
        tokens = part.split()
        if not tokens:
            continue
        name = tokens[0].lower()
        if name in seen:
            dups.append(name)  # the browser ignores a repeated directive
            continue
        seen[name] = tuple(_normalise(t) for t in tokens[1:])
    return Policy(text.strip(), tuple(seen.items()), tuple(dups))


def _normalise(token: str) -> str:
    low = token.lower()
    # keywords, schemes and '*' are case-insensitive; nonce/hash values are not
    if low.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")):
        return token[: token.index("-") + 1].lower() + token[token.index("-") + 1 :]
    return low


def split_policies(header: str) -> list[str]:
    """A header value may carry several policies separated by commas (repeated headers)."""
    return [p.strip() for p in header.split(",") if p.strip()]


@dataclass(frozen=True)
class CspReport:
    """The weaknesses of the strictest policy in a header (``policies`` all of them)."""

    header: str
    policies: tuple[Policy, ...]
    weaknesses: tuple[Weakness, ...]
    script_src: str  # the effective script-src, described: "script-src 'self'" or a fallback

    @property
    def blocking(self) -> tuple[Weakness, ...]:
        return tuple(w for w in self.weaknesses if w.blocking)

    @property
    def notes(self) -> tuple[Weakness, ...]:
        return tuple(w for w in self.weaknesses if not w.blocking)

    @property
    def ok(self) -> bool:
        return not self.blocking

    def summary(self) -> str:
        """One line: the blocking weaknesses (or the notes), each with its directive."""
        found = self.blocking or self.notes
        if not found:
            return f"{self.script_src}: no weakness found"
        return f"{self.script_src}: " + "; ".join(str(w) for w in found)


def evaluate_csp(header: str) -> CspReport:
    """Evaluate a ``Content-Security-Policy`` header value (one or more policies)."""
    texts = split_policies(header) or [""]
    reports = [_evaluate_one(parse_policy(t)) for t in texts]
    # every policy is enforced: the one with the fewest blocking weaknesses decides
    best = min(reports, key=lambda r: (sum(w.blocking for w in r[0]), len(r[0])))
    return CspReport(header, tuple(parse_policy(t) for t in texts), tuple(best[0]), best[1])


def _evaluate_one(policy: Policy) -> tuple[list[Weakness], str]:
    out: list[Weakness] = []
    default = policy.get("default-src")
    script = policy.get("script-src")
    if script is not None:
        where, sources = "script-src", script
        described = "script-src " + (" ".join(script) or "(empty)")
    elif default is not None:
        where, sources = "default-src (as script-src)", default
        described = "script-src falls back to default-src " + (" ".join(default) or "(empty)")
    else:
        out.append(
            Weakness(
                "script-src",
                "",
                "is missing and there is no default-src: scripts from anywhere run",
            )
        )
        where, sources = "", None
        described = "no script-src nor default-src"
    strict = False
    if sources is not None:
        strict = _has_nonce_or_hash(sources)
        out += _script_weaknesses(where, sources)
    for name in ("script-src-elem", "script-src-attr"):
        extra = policy.get(name)
        if extra is not None:
            out += _script_weaknesses(name, extra)
            strict = strict or _has_nonce_or_hash(extra)
    out += _object_weaknesses(policy, default)
    if "base-uri" not in policy:
        out.append(
            Weakness(
                "base-uri",
                "",
                "is missing: an injected <base> re-points the page's nonced/hashed scripts"
                if strict
                else "is missing: an injected <base> re-points relative URLs (set base-uri 'self')",
                blocking=strict,
            )
        )
    for name, srcs in policy.directives:
        if name not in KNOWN_DIRECTIVES:
            out.append(Weakness(name, "", "is not a CSP directive (a typo?)", blocking=False))
        for s in srcs:
            if s in _BARE_KEYWORDS:
                out.append(
                    Weakness(name, s, f"is a host name: write the keyword as '{s}'", blocking=False)
                )
    for name in policy.duplicates:
        out.append(Weakness(name, "", "is repeated: browsers ignore the second", blocking=False))
    return out, described


def _has_nonce_or_hash(sources: tuple[str, ...]) -> bool:
    return any(_NONCE.match(s) or _HASH.match(s) for s in sources)


def _script_weaknesses(directive: str, sources: tuple[str, ...]) -> list[Weakness]:
    if sources in ((), ("'none'",)):
        return []
    out: list[Weakness] = []
    strict = _has_nonce_or_hash(sources)
    dynamic = strict and "'strict-dynamic'" in sources
    for s in sources:
        if s == "'unsafe-inline'":
            if strict:
                out.append(
                    Weakness(
                        directive,
                        s,
                        "is ignored by CSP2+ browsers next to a nonce/hash (fallback for old ones)",
                        blocking=False,
                    )
                )
            else:
                out.append(Weakness(directive, s, "without a nonce or hash runs injected <script>"))
        elif s == "'unsafe-eval'":
            out.append(Weakness(directive, s, "lets injected strings run through eval()"))
        elif s in _OPEN_SCHEMES:
            if dynamic and s != "data:":
                out.append(
                    Weakness(
                        directive,
                        s,
                        "is ignored next to 'strict-dynamic' (fallback for CSP2 browsers)",
                        blocking=False,
                    )
                )
            elif s == "*":
                out.append(Weakness(directive, s, "allows scripts from any host"))
            elif s == "data:":
                out.append(Weakness(directive, s, "lets any page inject a script as a data: URL"))
            else:
                out.append(Weakness(directive, s, f"allows scripts from any {s[:-1]} host"))
        elif s in _NOTE_SCHEMES:
            out.append(
                Weakness(directive, s, "allows scripts built by the page itself", blocking=False)
            )
        elif s.startswith("http://") and not dynamic:
            out.append(
                Weakness(directive, s, "loads scripts over plain HTTP (tamperable)", blocking=False)
            )
        elif "*" in s and not dynamic:
            out.append(
                Weakness(
                    directive,
                    s,
                    "is a wildcard host: any script (or JSONP endpoint) under it runs",
                    blocking=False,
                )
            )
        elif s == "'unsafe-hashes'":
            out.append(
                Weakness(directive, s, "allows hashed inline event handlers", blocking=False)
            )
    return out


def _object_weaknesses(policy: Policy, default: tuple[str, ...] | None) -> list[Weakness]:
    obj = policy.get("object-src")
    if obj is None and default is None:
        return [
            Weakness(
                "object-src",
                "",
                "is missing (and no default-src): plugins can run script; set object-src 'none'",
            )
        ]
    where = "object-src" if obj is not None else "default-src (as object-src)"
    sources = obj if obj is not None else default or ()
    return [
        Weakness(where, s, "lets any host's plugin content run script; set object-src 'none'")
        for s in sources
        if s in _OPEN_SCHEMES
    ]


__all__ = [
    "KNOWN_DIRECTIVES",
    "CspReport",
    "Policy",
    "Weakness",
    "evaluate_csp",
    "parse_policy",
    "split_policies",
]
