"""Benchmark: a four-name certificate from the embedded Pebble, validated over HTTP-01 via nginx.

    .venv/bin/python bench/acme_issuance.py [--runs 10] [--certbot-runs 3] [--no-certbot]

Measures (medians, seconds):
  pebble start           PebbleServer.start() until the directory answers
  client issue           AcmeClient.issue(): new order -> 4 HTTP-01 validations -> certificate
  issue + install + reload   acme.issue(): the above + atomic install + SIGHUP, until nginx's old
                         workers are gone (the new certificate is what every connection gets)
  poll_and_finalize      python-acme's own polling (fixed 1 s sleeps), for comparison
  certbot certonly       system certbot, same names, same webroot, same Pebble

Target (issue 8): 4-name issuance < 1 s; certbot ~2.5 s on this machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_prodcheck import acme
from tests._acme_env import NAMES, AcmeEnv


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _row(label: str, times: list[float]) -> str:
    return (
        f"| {label} | {len(times)} | {statistics.median(times):.3f} | {min(times):.3f} | "
        f"{max(times):.3f} |"
    )


def _poll_and_finalize(env: AcmeEnv) -> None:
    """python-acme's own flow (fixed 1 s sleeps), same names/webroot."""
    import josepy as jose
    from acme import challenges, client, crypto_util, messages
    from cryptography.hazmat.primitives.asymmetric import ec

    acc = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    ca = str(env.pebble.api_ca_path)
    net = client.ClientNetwork(acc, alg=jose.ES256, verify_ssl=ca)  # type: ignore[arg-type]
    c = client.ClientV2(client.ClientV2.get_directory(env.pebble.directory_url, net), net=net)
    c.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    order = c.new_order(crypto_util.make_csr(acme.client.generate_key("ecdsa"), list(NAMES)))
    chal_dir = Path(env.nginx.webroot) / ".well-known" / "acme-challenge"
    for authz in order.authorizations:
        chb = next(x for x in authz.body.challenges if isinstance(x.chall, challenges.HTTP01))
        response, validation = chb.response_and_validation(acc)
        path = chal_dir / chb.chall.encode("token")
        path.write_text(validation)
        path.chmod(0o644)
        c.answer_challenge(chb, response)
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    c.poll_and_finalize(order, deadline)


def _certbot(env: AcmeEnv, work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    argv = [
        "certbot", "certonly", "--non-interactive", "--agree-tos",
        "--register-unsafely-without-email", "--server", env.pebble.directory_url,
        "--webroot", "-w", str(env.nginx.webroot), "--cert-name", "shop.test",
        "--key-type", "ecdsa",
        *[a for n in NAMES for a in ("-d", n)],
        "--config-dir", str(work / "etc"), "--work-dir", str(work / "work"),
        "--logs-dir", str(work / "logs"),
    ]  # fmt: skip
    env_vars = {**os.environ, "REQUESTS_CA_BUNDLE": str(env.pebble.api_ca_path)}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env_vars, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"certbot failed: {proc.stderr.strip().splitlines()[-1:]}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--certbot-runs", type=int, default=3)
    parser.add_argument("--no-certbot", action="store_true")
    args = parser.parse_args()

    starts: list[float] = []
    t = time.perf_counter()
    env = AcmeEnv.start()
    starts.append(time.perf_counter() - t)
    try:
        client = acme.AcmeClient(env.pebble.directory_url, ca_bundle=env.pebble.api_ca_path)
        client.connect()
        webroot = Path(env.nginx.webroot)
        client.issue(NAMES, webroot)  # warm-up (imports, first TLS session)
        rows = []
        pebble_starts = []
        for i in range(3):
            from pytest_prodcheck.stack.pebble import PebbleServer

            t = time.perf_counter()
            p = PebbleServer(env.root / f"pebble-bench-{i}", env.nginx.options.http_port).start()
            pebble_starts.append(time.perf_counter() - t)
            p.stop()
        rows.append(_row("pebble start (mock DNS + pebble, directory answers)", pebble_starts))
        rows.append(
            _row(
                "**client issue, 4 names (new order → 4 × HTTP-01 via nginx → cert)**",
                _timed(lambda: client.issue(NAMES, webroot), args.runs),
            )
        )
        rows.append(
            _row(
                "issue + atomic install + nginx reload, until old workers are gone",
                _timed(lambda: env.issue_and_wait(), args.runs),
            )
        )
        rows.append(
            _row(
                "python-acme `poll_and_finalize()` (fixed 1 s sleeps), 4 names",
                _timed(lambda: _poll_and_finalize(env), 2),
            )
        )
        if not args.no_certbot and shutil.which("certbot"):
            work = env.root / "certbot"
            rows.append(
                _row(
                    "certbot certonly --webroot, 4 names (system certbot)",
                    _timed(lambda: _certbot(env, work), args.certbot_runs),
                )
            )
    finally:
        env.stop()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, loadavg {' '.join(load)}")
    print("| step | runs | median s | min s | max s |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
