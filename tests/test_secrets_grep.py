"""One distinctive password everywhere a secret can go; every CLI command and suite run; then
every byte they wrote is searched for it. Zero hits.

- Databases + S3 (``test_no_byte_written_holds_the_secret``): the password is in every DSN and
  is the S3 secret key; the backup/restore/backups/cron/pgbouncer/ssl/doctor/checklist commands
  and the backups suite run. A corrupt ACME account file holding it is read by ``ssl renew``.
- ACME (``test_acme_key_material_stays_in_its_files``): a real certificate from Pebble through
  ``ssl issue`` (+ ``--dry-run --json``), ``ssl renew`` (not due, ``--dry-run``, ``--force``), the
  renewal cron line, ``doctor`` and the acme suite. The secrets are the account key (the JWK's
  ``d``) and each certificate key: every PEM line that encodes private bytes, and each private
  number as hex/base64/base64url. They may only be in ``accounts/*/account.json``,
  ``live/*/privkey.pem`` and ``archive/*/*/privkey.pem``. A directory URL carrying the password
  is refused (it would name the account's directory).
- Load (``test_load_runs_hold_no_secret``): real short Locust runs (CLI and the load suite)
  whose config DSNs hold the password; a load URL carrying it as basic-auth
  (``http://admin:PW@…``, resolved by a resolve entry or not) is refused, masked.

Searched: stdout and stderr of every command; every file under the work dirs (reports
md/json/html, history records, Locust html/csv/json/log, summary.json, progress, backups and
their manifests/checksums, crontab, ssl store and renewal configs, nginx/pebble logs) and under
the run registry (``RUN_ROOT``).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from pytest_prodcheck.backup.catalog import list_backups
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import RUN_ROOT, make_tempdir, remove_tempdir
from pytest_prodcheck.stack.s3 import S3Server
from tests._acme_env import DOMAIN, NAMES, AcmeEnv
from tests._backup_env import PRODCHECK, BackupEnv, cli_env
from tests._load_target import Target

SECRET = "Xq7DistinctivePw9Zz"  # URL-safe: it appears verbatim in every DSN
ROOT = Path(__file__).resolve().parents[1]
PYTEST = str(Path(sys.executable).with_name("pytest"))
# where the ACME keys belong (relative to the certificate store)
KEY_FILES = ("accounts/*/account.json", "live/*/privkey.pem", "archive/*/*/privkey.pem")


def _files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _hits(needles: Iterable[str], outputs: Mapping[str, str], files: Iterable[Path]) -> list[str]:
    """Where any needle occurs: output names and file paths (the needle itself not shown)."""
    wanted = [n for n in needles if n]
    hits = [name for name, text in outputs.items() if any(n in text for n in wanted)]
    raw = [n.encode() for n in wanted]
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:  # RUN_ROOT is shared: another run's file may be gone meanwhile
            continue
        hits += [str(path)] if any(n in data for n in raw) else []
    return hits


def _base_env() -> dict[str, str]:
    """Our environment minus anything that could point elsewhere (``PG*``, ``AWS_*``,
    ``PRODCHECK_*``); the S3 secret is the password too."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "PRODCHECK_"))}
    return out | {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_EC2_METADATA_DISABLED": "true"}


def _run(
    outputs: dict[str, str], args: list[str], env: Mapping[str, str], cwd: Path, name: str = ""
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=dict(env), cwd=cwd, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    outputs[name or " ".join(args[1:])] = done.stdout + done.stderr
    return done


# -- databases, S3, backups ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, object]]:
    env = BackupEnv.start(orders=200)
    s3 = S3Server(make_tempdir("secrets-s3-")).start()
    work = make_tempdir("secrets-")
    try:
        users = {urlsplit(t.dsn).username for t in (env.main, env.ai, env.admin)}
        env.server.execute("; ".join(f"ALTER ROLE \"{u}\" PASSWORD '{SECRET}'" for u in users))
        env.server.superuser_password = env.server.app_password = SECRET
        dsns = {"main": env.main.dsn, "ai": env.ai.dsn, "admin": env.admin.dsn}
        assert all(SECRET in d for d in dsns.values())
        dead = f"postgresql://pgbouncer:{SECRET}@127.0.0.1:{free_port()}/pgbouncer"
        (work / "prodcheck.toml").write_text(
            "[database]\n"
            f'dsn = "{dsns["main"]}"\nai_dsn = "{dsns["ai"]}"\nadmin_dsn = "{dsns["admin"]}"\n'
            "[pgbouncer]\n"
            f'dsn = "{dead.replace("/pgbouncer", "/ecommerce")}"\nadmin_dsn = "{dead}"\n'
            "[backup]\n"
            f'dir = "{work / "backups"}"\n'
            "[s3]\n"
            f'bucket = "{s3.bucket}"\nendpoint_url = "{s3.endpoint_url}"\n'
        )
        acct = work / "ssl" / "accounts" / "acme.example" / "account.json"
        acct.parent.mkdir(parents=True)
        acct.write_text('{"key": "' + SECRET + '"}')  # a corrupt account key holding the secret
        e = cli_env(env)
        for k in ("DATABASE_URL", "AI_DATABASE_URL", "ADMIN_DATABASE_URL"):
            e.pop(k, None)
        e.update(AWS_ACCESS_KEY_ID="AKIASECRETSTEST", AWS_SECRET_ACCESS_KEY=SECRET,
                 AWS_BACKUP_BUCKET=s3.bucket)  # fmt: skip
        yield {"env": env, "s3": s3, "work": work, "cli_env": e, "dsns": dsns}
    finally:
        s3.stop()
        remove_tempdir(s3.workdir)
        env.stop()
        remove_tempdir(work)


def _commands(work: Path) -> list[list[str]]:
    backups = work / "backups"
    main = list_backups(backups, "main")
    file = str(main[-1].path) if main else str(backups / "main_db_20250101_000000.sql.gz")
    tab = str(work / "crontab.txt")
    return [
        ["backups", "list", "--s3"],
        ["backups", "verify", file],
        ["backups", "prune", "--retain", "30", "--dry-run"],
        ["restore", file, "--yes"],
        ["cron", "install", "--daily", "--s3", "--crontab-file", tab],
        ["cron", "install", "--job", "ssl-renew", "--crontab-file", tab],
        ["cron", "show", "--crontab-file", tab],
        ["pgbouncer", "stats"],
        ["pgbouncer", "config"],
        ["ssl", "renew", "--cert-dir", str(work / "ssl")],
        ["doctor", "--target", "external"],
        ["checklist"],
    ]


def test_no_byte_written_holds_the_secret(world: dict[str, object]) -> None:
    work = world["work"]
    e = world["cli_env"]
    assert isinstance(work, Path) and isinstance(e, dict)
    outputs: dict[str, str] = {}

    first = _run(outputs, [*PRODCHECK, "backup", "--all", "--verify", "--s3"], e, work)
    assert first.returncode == 0, first.stdout + first.stderr  # the password is really in use
    for args in _commands(work):
        _run(outputs, [*PRODCHECK, *args], e, work)
    # a DSN whose server is gone: the error line names it, masked
    _run(outputs, [*PRODCHECK, "backup", "--main", "--set", f"database.dsn=postgresql://app:"
         f"{SECRET}@127.0.0.1:{free_port()}/ecommerce", "--dir", str(work / "unreachable")],
         e, work)  # fmt: skip
    # the suite: the backup area's smoke checks against this database (external target)
    suite = _run(outputs, [PYTEST, str(ROOT / "suites" / "test_backups.py"), "-m", "smoke",
                           "-p", "no:cacheprovider", "--prodcheck-target", "external",
                           "--prodcheck-config", str(work / "prodcheck.toml"),
                           "--prodcheck-report-dir", str(work / "reports")],
                 e, work, "pytest suites/test_backups.py")  # fmt: skip
    assert (work / "reports" / "checklist.json").is_file(), suite.stdout[-2000:]
    assert (work / "crontab.txt").is_file() and list_backups(work / "backups", "main")

    files = [p for p in _files(work) if p.name != "prodcheck.toml"]
    files = [p for p in files if "accounts" not in p.parts]  # the inputs we wrote ourselves
    assert len(files) > 10, files  # reports, history, backups + sidecars, crontab …
    hits = _hits([SECRET], outputs, [*files, *_files(RUN_ROOT)])
    assert not hits, f"the secret appears in: {hits}"


# -- ACME: the account key and the certificate keys ------------------------------------------------
def _encodings(raw: bytes) -> set[str]:
    """A private number as hex, base64 and base64url (unpadded: found padded or not)."""
    return {
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def _key_needles(pem: bytes) -> set[str]:
    """What of a PEM private key must not leak: each of its private numbers in every encoding,
    and each base64 line of the PEM that encodes some of their bytes (lines holding only the
    public key or ASN.1 headers are left out: they may legitimately appear elsewhere)."""
    key = load_pem_private_key(pem, None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = [key.private_numbers().private_value]
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        n = key.private_numbers()
        numbers = [n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp]
    raws = [v.to_bytes((v.bit_length() + 7) // 8, "big") for v in numbers]
    lines = [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----")]
    der = base64.b64decode("".join(lines))
    needles: set[str] = set()
    for raw in raws:
        start = der.find(raw)
        assert start >= 0, "a private number not found in its own key"
        needles |= _encodings(raw)
        first, last = start // 48, (start + len(raw) - 1) // 48  # 64 base64 chars = 48 bytes
        needles |= {ln for ln in lines[first : last + 1] if len(ln) >= 16}
    return needles


def _jwk_needles(jwk: Mapping[str, str]) -> set[str]:
    d = jwk["d"]
    return {d} | _encodings(base64.urlsafe_b64decode(d + "=" * (-len(d) % 4)))


def _is_key_file(store: Path, path: Path) -> bool:
    try:
        rel = path.relative_to(store)
    except ValueError:
        return False
    return any(len(rel.parts) == p.count("/") + 1 and rel.match(p) for p in KEY_FILES)


@pytest.fixture(scope="module")
def acme_env() -> Iterator[AcmeEnv]:
    env = AcmeEnv.start()
    try:
        yield env
    finally:
        env.stop()


def test_acme_key_material_stays_in_its_files(acme_env: AcmeEnv) -> None:
    env = acme_env
    work = env.root / "work"
    work.mkdir()
    store = env.store.root
    https = env.nginx.options.https_port
    resolve = ", ".join(f'"{n}:{https}:127.0.0.1"' for n in NAMES)
    (work / "prodcheck.toml").write_text(
        f'url = "https://{DOMAIN}:{https}"\nresolve = [{resolve}]\nca_bundle = "{env.roots}"\n'
        f'[database]\ndsn = "postgresql://app:{SECRET}@127.0.0.1:{free_port()}/ecommerce"\n'
        f'[acme]\ncert_dir = "{store}"\nexpected_issuer = "Pebble"\n'
        f'directory = "{env.pebble.directory_url}"\nca_bundle = "{env.pebble.api_ca_path}"\n'
    )
    tab = work / "crontab.txt"
    e = _base_env() | {"PRODCHECK_CRONTAB_FILE": str(tab)}
    ca = ["--directory", env.pebble.directory_url, "--ca-bundle", str(env.pebble.api_ca_path),
          "--webroot", str(env.nginx.webroot)]  # fmt: skip
    where = ["--cert-dir", str(store), "--reload-command", shlex.join(env.nginx.reload_command)]
    issue = ["ssl", "issue", DOMAIN, "admin@shop.test", *ca, *where]
    outputs: dict[str, str] = {}
    for args in (
        issue,
        [*issue, "--dry-run", "--json"],
        ["ssl", "renew", *where],  # not due
        ["ssl", "renew", "--dry-run", *where],
        ["ssl", "renew", "--force", "--json", *where],
        ["cron", "install", "--job", "ssl-renew", "--crontab-file", str(tab)],
        ["doctor", "--target", "external"],
    ):
        done = _run(outputs, [*PRODCHECK, *args], e, work)
        assert done.returncode == 0 or args[0] == "doctor", done.stdout + done.stderr
    # a password in the directory URL would name the account's directory: refused, masked
    with_pw = env.pebble.directory_url.replace("https://", f"https://acme:{SECRET}@")
    done = _run(outputs, [*PRODCHECK, *issue, "--directory", with_pw], e, work, "pw in dir URL")
    assert done.returncode == 2 and "credentials in the directory URL" in done.stderr
    suite = _run(outputs, [PYTEST, str(ROOT / "suites" / "test_acme.py"), "-m", "acme",
                           "-p", "no:cacheprovider", "--prodcheck-target", "external",
                           "--prodcheck-config", str(work / "prodcheck.toml"),
                           "--prodcheck-report-dir", str(work / "reports")],
                 e, work, "pytest suites/test_acme.py")  # fmt: skip
    assert suite.returncode == 0, suite.stdout[-3000:]  # incl. the renewal dry run (account key)
    assert "renewed" in outputs[" ".join(["ssl", "renew", "--force", "--json", *where])]

    (account,) = (store / "accounts").glob("*/account.json")
    needles = _jwk_needles(json.loads(account.read_text())["key"])
    keys = sorted(store.glob("live/*/privkey.pem")) + sorted(store.glob("archive/*/*/privkey.pem"))
    assert len({k.read_bytes() for k in keys}) == 2, keys  # 0001 (issue), 0002 = live (renewal)
    for pem in keys:
        needles |= _key_needles(pem.read_bytes())
    key_files = [account, *keys]
    assert _hits(needles, {}, key_files) == [str(p) for p in key_files]  # the needles are real
    files = [p for p in _files(env.root) if not _is_key_file(store, p)]
    files.remove(work / "prodcheck.toml")  # our input (holds SECRET)
    assert len(files) > 20, files  # renewal config, certs, reports, crontab, nginx/pebble logs
    hits = _hits([*needles, SECRET], outputs, [*files, *_files(RUN_ROOT)])
    assert not hits, f"ACME key material or the secret appears in: {hits}"


# -- load: Locust runs and their reports -----------------------------------------------------------
LOCUST_FILES = ("locust.html", "locust.json", "locust_stats.csv", "locust.log", "summary.json",
                "progress.jsonl")  # fmt: skip


@pytest.fixture(scope="module")
def load_target() -> Iterator[Target]:
    with Target() as target:
        yield target


def test_load_runs_hold_no_secret(load_target: Target) -> None:
    work = make_tempdir("secrets-load-")
    try:
        _load_runs(load_target, work)
    finally:
        remove_tempdir(work)


def _load_runs(target: Target, work: Path) -> None:
    port = urlsplit(target.url).port
    plain = f"http://shop.test:{port}"  # resolved below
    named = f"http://admin:{SECRET}@shop.test:{port}"  # refused, resolved or not
    literal = f"http://admin:{SECRET}@127.0.0.1:{port}"  # refused: credentials in the load URL
    resolve = f"shop.test:{port}:127.0.0.1"
    (work / "prodcheck.toml").write_text(
        f'url = "{plain}"\nresolve = ["{resolve}"]\n'
        f'[database]\ndsn = "postgresql://app:{SECRET}@127.0.0.1:{free_port()}/ecommerce"\n'
        f'[pgbouncer]\nadmin_dsn = "postgresql://pgbouncer:{SECRET}@127.0.0.1:1/pgbouncer"\n'
        "[load]\nwait_min = 0.05\nwait_max = 0.2\nmin_rps = 5\n"
    )
    e = _base_env() | {"PRODCHECK_LOAD_ACCOUNT_PASSWORD": SECRET}
    reports = work / "reports"
    short = ["--duration", "3", "--users", "5", "--report-dir", str(reports)]
    rec = ["--record", *short]
    outputs: dict[str, str] = {}
    runs = {
        "url + resolve": ["load", "smoke", "--target", "external", *short],
        "--host, --json --record": ["load", "smoke", "--host", target.url, "--json", *rec],
        "--host with a password": ["load", "smoke", "--host", literal, *short],
    }
    for name, args in runs.items():
        done = _run(outputs, [*PRODCHECK, *args], e, work, name)
        expected = 2 if "password" in name else 0
        assert done.returncode == expected, done.stdout + done.stderr
    assert "credentials in the load URL" in outputs["--host with a password"]
    suite = [PYTEST, str(ROOT / "suites" / "test_load.py"), "-m", "smoke and load",
             "-p", "no:cacheprovider", "--prodcheck-target", "external",
             "--prodcheck-config", str(work / "prodcheck.toml"),
             "--prodcheck-load-duration", "3"]  # fmt: skip
    ran = _run(outputs, [*suite, "--prodcheck-url", plain, "--prodcheck-resolve", resolve,
                         "--prodcheck-report-dir", str(work / "suite")],
               e, work, "suite, resolved")  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:]
    refused = _run(outputs, [*suite, "--prodcheck-url", named, "--prodcheck-resolve", resolve,
                             "--prodcheck-report-dir", str(work / "suite-refused-resolved")],
                   e, work, "suite, password in the resolved URL")  # fmt: skip
    assert refused.returncode == 1 and "credentials in the load URL" in refused.stdout
    refused = _run(outputs, [*suite, "--prodcheck-url", literal,
                             "--prodcheck-report-dir", str(work / "suite-refused")],
                   e, work, "suite, password in the URL")  # fmt: skip
    assert refused.returncode == 1 and "credentials in the load URL" in refused.stdout

    run_dirs = sorted((reports / "load").iterdir()) + sorted((work / "suite" / "load").iterdir())
    assert len(run_dirs) == 3, run_dirs  # the refused runs started nothing
    for run_dir in run_dirs:
        assert all((run_dir / f).is_file() for f in LOCUST_FILES), sorted(run_dir.iterdir())
    assert list((reports / "history").glob("*.json"))  # the recorded baseline
    for d in ("suite", "suite-refused", "suite-refused-resolved"):
        assert (work / d / "checklist.html").is_file()
    files = [p for p in _files(work) if p.name != "prodcheck.toml"]
    hits = _hits([SECRET], outputs, [*files, *_files(RUN_ROOT)])
    assert not hits, f"the secret appears in: {hits}"
