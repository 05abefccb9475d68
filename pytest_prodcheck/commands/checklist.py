"""``prodcheck checklist`` and ``prodcheck attest``: the checklist as a workflow.

    $ prodcheck checklist                 # every item: severity, how it is decided, last status
    $ prodcheck checklist -m smoke        # … and which items a `pytest -m smoke` run decides
    $ prodcheck checklist --json
    $ prodcheck attest security.firewall --by "Jane Ops" \\
          --evidence https://tickets.example.com/OPS-12 --note "ufw: 22,80,443 only"

Linked tests are found by collecting ``suites/`` in a child ``pytest --collect-only`` (so suite
modules are never imported into this process); when that is impossible, the tests listed in the
last report are used. The last status comes from ``<report_dir>/checklist.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_prodcheck.checklist import (
    CHECKLIST,
    SECTION_TITLES,
    SECTIONS,
    Attestation,
    append_attestation,
    load_attestations,
)
from pytest_prodcheck.commands._common import add_config_args, settings_from_args
from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.errors import ConfigError

_ENV_OUT = "PRODCHECK_LINKMAP_OUT"
COLLECT_TIMEOUT_S = 180


# --- run inside the child pytest (loaded with -p pytest_prodcheck.commands.checklist) ---------


def pytest_collection_finish(session: Any) -> None:
    """Child-side hook: write ``{nodeid: [checklist ids]}`` of the collected tests."""
    out = os.environ.get(_ENV_OUT)
    if not out:
        return
    links: dict[str, list[str]] = {}
    for item in session.items:
        ids: list[str] = []
        for mark in item.iter_markers("checklist"):
            ids.extend(a for a in mark.args if isinstance(a, str) and a not in ids)
        if ids:
            links[item.nodeid] = ids
    Path(out).write_text(json.dumps(links), encoding="utf-8")


# --- discovery ----------------------------------------------------------------------------------


def suites_dir(explicit: str | None) -> Path:
    """``--suites DIR``, else ``./suites`` (a checkout), else the suites installed with the package."""
    if explicit:
        return Path(explicit)
    local = Path("suites")
    return local if local.is_dir() else Path(__file__).resolve().parent.parent / "suites"


def collect_links(
    suites: Path, markexpr: str | None = None, timeout: float = COLLECT_TIMEOUT_S
) -> dict[str, list[str]]:
    """``{item id: [nodeids]}`` by collecting ``suites`` in a child pytest (ConfigError if bad)."""
    if not suites.is_dir():
        raise ConfigError(f"suites directory {suites} not found: pass --suites DIR")
    with tempfile.TemporaryDirectory(prefix="prodcheck-links-") as tmp:
        out = Path(tmp) / "links.json"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:locust",  # its plugin imports locust, which monkey-patches with gevent
            "-p",
            "pytest_prodcheck.commands.checklist",
            str(suites),
        ]
        if markexpr:
            cmd += ["-m", markexpr]
        env = {**os.environ, _ENV_OUT: str(out)}
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise ConfigError(f"collecting {suites} took longer than {timeout:.0f} s") from None
        if proc.returncode not in (0, 5) or not out.exists():
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            tail = lines[-1] if lines else f"exit {proc.returncode}"
            raise ConfigError(f"collecting {suites} failed: {tail}")
        links: dict[str, list[str]] = json.loads(out.read_text(encoding="utf-8"))
    by_item: dict[str, list[str]] = {}
    for nodeid, ids in links.items():
        for item_id in ids:
            by_item.setdefault(item_id, []).append(nodeid)
    return by_item


def read_last_report(path: Path) -> dict[str, Any] | None:
    """The last ``checklist.json`` or None when there is none (ConfigError if it is corrupt)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a readable report ({exc}); delete it or rerun") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ConfigError(f"{path} is not a prodcheck report (no items[]); delete it or rerun")
    return data


def _links_from_report(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        str(i.get("id")): [str(t.get("nodeid")) for t in i.get("tests", [])]
        for i in report["items"]
        if i.get("tests")
    }


def checklist_rows(
    settings: Settings,
    links: dict[str, list[str]],
    last: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """One row per item: id, section, title, severity, decided_by, tests, attestation, last."""
    last_by_id = {i.get("id"): i for i in (last or {}).get("items", [])}
    attestations: dict[str, Attestation] = {}
    att_path = settings.attestations_path
    if settings.attestations or att_path.exists():
        for a in sorted(load_attestations(att_path), key=lambda a: a.at):
            attestations[a.item] = a
    rows = []
    for item in CHECKLIST:
        tests = links.get(item.id, [])
        if tests:
            how = "tests" if item.automated else "tests when they run, else attestation"
        elif item.automated:
            how = "tests (none linked yet)"
        else:
            how = "attestation"
        att = attestations.get(item.id)
        rows.append(
            {
                "id": item.id,
                "section": item.section,
                "title": item.title,
                "severity": item.severity,
                "automated": item.automated,
                "decided_by": how,
                "tests": tests,
                "attestation": att.to_dict() if att else None,
                "last_status": (last_by_id.get(item.id) or {}).get("status"),
            }
        )
    return rows


def _print_rows(rows: list[dict[str, Any]], last: dict[str, Any] | None, source: str) -> None:
    automated = sum(1 for r in rows if r["automated"])
    print(
        f"Production checklist: {len(rows)} items ({automated} automated, "
        f"{len(rows) - automated} manual); linked tests from {source}"
    )
    if last:
        run = last.get("run", {})
        print(
            f"Last report: verdict {last.get('verdict')} at {run.get('finished_utc')} "
            f"(release {run.get('release') or '—'}, markers {run.get('marker_expression') or '—'})"
        )
    else:
        print("Last report: none yet (run `make smoke` or `pytest -m smoke`)")
    for section in SECTIONS:
        print(f"\n{SECTION_TITLES[section]}")
        for r in (x for x in rows if x["section"] == section):
            tests = r["tests"]
            how = r["decided_by"]
            if tests:
                how += f": {len(tests)} test{'s' if len(tests) != 1 else ''} ({tests[0]}"
                how += ", …)" if len(tests) > 1 else ")"
            if r["attestation"]:
                a = r["attestation"]
                how += f"; attested by {a['by']} {a['at'][:10]}"
            print(f"  {r['id']:<34} {r['severity']:<8} {r['last_status'] or '—':<14} {how}")


# --- commands ------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "checklist",
        help="list every checklist item, how it is decided and its last status",
        description="List every production-checklist item with its severity, how it is "
        "decided (linked tests or attestation) and its status in the last report.",
    )
    add_config_args(p)
    p.add_argument(
        "--suites",
        metavar="DIR",
        help="suite directory (default: ./suites when present, else the installed suites)",
    )
    p.add_argument(
        "-m",
        dest="markexpr",
        metavar="EXPR",
        help="only tests matching this marker expression, e.g. smoke",
    )
    p.add_argument("--report", metavar="PATH", help="report to read (<report_dir>/checklist.json)")
    p.add_argument("--no-collect", action="store_true", help="take linked tests from the report")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)

    a = subparsers.add_parser(
        "attest",
        help="record an attestation for a manual checklist item",
        description="Record who vouches for a manual item, with a link to the evidence.",
    )
    add_config_args(a)
    a.add_argument("item", help="checklist item id, e.g. security.firewall")
    a.add_argument("--by", required=True, metavar="NAME", help="who attests")
    a.add_argument("--evidence", required=True, metavar="URL", help="link to the proof")
    a.add_argument("--note", default="", help="free text")
    a.add_argument(
        "--not-applicable",
        action="store_true",
        help="attest that the item does not apply to this deployment",
    )
    a.add_argument("--file", metavar="PATH", help="attestation file (setting `attestations`)")
    a.set_defaults(func=run_attest)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    report_path = Path(args.report) if args.report else Path(settings.report_dir) / "checklist.json"
    last = read_last_report(report_path)
    links: dict[str, list[str]] = {}
    source = "the last report"
    if not args.no_collect:
        try:
            suites = suites_dir(args.suites)
            links = collect_links(suites, args.markexpr)
            source = f"collecting {suites}" + (f" -m {args.markexpr!r}" if args.markexpr else "")
        except ConfigError as exc:
            print(f"prodcheck: note: {exc}; using the last report's tests", file=sys.stderr)
    if source == "the last report":
        links = _links_from_report(last) if last else {}
    rows = checklist_rows(settings, links, last)
    if args.json:
        print(
            json.dumps(
                {"source": source, "verdict": (last or {}).get("verdict"), "items": rows}, indent=2
            )
        )
    else:
        _print_rows(rows, last, source)
    return 0


def run_attest(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    path = Path(args.file) if args.file else settings.attestations_path
    att = Attestation(
        item=args.item,
        by=args.by,
        at=datetime.now(UTC).replace(microsecond=0),
        evidence=args.evidence,
        note=args.note,
        applicable=not args.not_applicable,
    )
    append_attestation(path, att)
    print(f"recorded: {att.item} attested by {att.by} in {path}")
    return 0
