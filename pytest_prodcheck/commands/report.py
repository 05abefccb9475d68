"""``prodcheck report release``: the release decision from the evidence history.

    $ prodcheck report release --release REL-9
    INCOMPLETE: 1 critical item lacks fresh evidence: predeploy.disaster-recovery (stale: 40 d > 30 d)
      predeploy.disaster-recovery  stale   run 20261019T020000Z-… (backups), 2026-10-19 02:00 UTC, 40 d old
      …
    report: reports/release.{json,md,html}
    $ prodcheck report release --target shop.example.com --json

Reads the history (``[history]``: ``<report_dir>/history`` or the S3 bucket), decides every
checklist item from its newest fresh evidence and writes ``release.{json,md,html}`` into the
report directory (``--out``). ``--target`` is the history's name of the target (``local``, a
site's host, or ``[history] target``; default: this configuration's). Exit codes: 0 GO or
GO-WITH-WAIVERS, 1 NO-GO or INCOMPLETE, 2 usage/configuration error (no such release or target
in the history), 3 the history bucket cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pytest_prodcheck.commands._common import parse_set, settings_from_args
from pytest_prodcheck.config import DEFAULT_CONFIG_NAME
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.release.service import release_from_history, store_for


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="reports built from the evidence history (prodcheck report release)",
        description="Reports built from the evidence history of several runs.",
    )
    sub = p.add_subparsers(dest="report_command", metavar="REPORT", parser_class=type(p))
    r = sub.add_parser(
        "release",
        help="decide a release from fresh evidence across runs (GO / INCOMPLETE / NO-GO)",
        description="Decide every checklist item from the newest evidence within its maximum "
        "age, across the runs in the history, and write release.{json,md,html}.",
    )
    r.add_argument("--release", metavar="REL", help="the release (its newest run is 'this run')")
    r.add_argument(
        "--target",
        dest="history_target",
        metavar="T",
        help="the target's name in the history (local, a site's host, or [history] target)",
    )
    r.add_argument("--out", metavar="DIR", help="where release.{json,md,html} go (report_dir)")
    r.add_argument("--json", action="store_true", help="print release.json instead of text")
    group = r.add_argument_group("configuration")
    group.add_argument(
        "--config", metavar="PATH", help=f"settings file (default: ./{DEFAULT_CONFIG_NAME})"
    )
    group.add_argument(
        "--set",
        dest="set_values",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one setting, e.g. --set history.trend_runs=10 (repeatable)",
    )
    r.set_defaults(func=run)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def _check_choice(read: Any, release: str | None, target: str) -> None:
    records = read.records
    if not records:
        raise ConfigError(
            f"the history {read.where} has no usable record yet: run the suite first "
            "(pytest -m smoke writes one)"
        )
    targets = sorted({r.target for r in records})
    if target not in targets:
        raise ConfigError(
            f"no run for target {target!r} in the history {read.where}; targets there: "
            f"{', '.join(targets)} (pass --target)"
        )
    if release is not None and not any(
        r.release == release and r.target == target and r.kind == "run" for r in records
    ):
        seen = sorted({r.release for r in records if r.release and r.target == target})
        raise ConfigError(
            f"no run of release {release!r} on target {target!r} in the history {read.where}; "
            f"releases there: {', '.join(seen) or 'none'} (pass --release)"
        )


def run(args: argparse.Namespace) -> int:
    for text in args.set_values:
        parse_set(text)  # a malformed --set is a usage error before anything is read
    settings = settings_from_args(args)
    store = store_for(settings, os.environ)
    rr, read = release_from_history(
        settings, os.environ, release=args.release, target=args.history_target, store=store
    )
    for problem in read.problems:
        print(f"prodcheck: note: {problem}", file=sys.stderr)
    _check_choice(read, args.release, rr.target)
    from pytest_prodcheck.release.write import render_release_json, write_release_reports

    out = Path(args.out or settings.report_dir)
    write_release_reports(rr, out)
    if args.json:
        print(render_release_json(rr), end="")
    else:
        print(rr.headline)
        for r in rr.items:
            if r.satisfied and r.status != "waived":
                continue
            print(f"  {r.item.id:<30} {r.status:<8} {r.source_text}")
        for c in rr.comparisons:
            print(f"  load {c.profile}: {c.line}")
        print(f"report: {out}/release.{{json,md,html}}")
    return 0 if rr.verdict in ("GO", "GO-WITH-WAIVERS") else 1
