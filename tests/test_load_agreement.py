"""The report's percentiles agree with the server's own log (nginx ``$request_time``).

Real nginx proxies to a real upstream whose every answer takes a random 0..200 ms; the bundled
journey runs through it with Locust. nginx logs ``$request_time`` (first request byte read ->
last response byte written) and ``$upstream_response_time`` for every request. The report's
p50/p95/p99 must agree with the same percentiles of nginx's log within max(5 ms, 5 %).

Direction: the client's time can only be *longer*. It starts before the request leaves the
generator and ends after the last byte arrived back, so it adds loopback transfer and the
generator's own scheduling to nginx's view; nginx's ``$request_time`` starts only when it reads
the first byte. So client - server >= 0 (minus 1 ms: both sides floor to whole ms) and <= the
tolerance. ``$upstream_response_time <= $request_time`` (+ 1 ms of rounding) holds for every line.
"""

from __future__ import annotations

import math
from pathlib import Path

from _load_target import Target

from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.load.runner import RunSpec, run_locust
from pytest_prodcheck.load.stats import exact_percentile
from pytest_prodcheck.stack.nginx import NginxServer

CONF = """daemon off; master_process on; worker_processes 1;
pid {p}/nginx.pid; error_log {p}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format timing '$status $request_time $upstream_response_time';
  access_log {p}/access.log timing;
  client_body_temp_path {p}/body; proxy_temp_path {p}/proxy;
  fastcgi_temp_path {p}/fastcgi; uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;
  upstream app {{ server {upstream}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://app; proxy_http_version 1.1;
                  proxy_set_header Connection ""; }}
  }}
}}
"""


def _server_times(log: Path) -> list[float]:
    times = []
    for line in log.read_text().splitlines():
        _status, request_time, upstream = line.split()
        if upstream != "-":
            assert float(upstream) <= float(request_time) + 0.001 + 1e-9, line  # ms rounding
        times.append(float(request_time) * 1000)
    return times


def test_report_percentiles_agree_with_nginx_request_time(tmp_path):
    with Target("--jitter", "/=200") as target:
        work = make_tempdir("agree-nginx-")
        port = free_port()
        upstream = target.url.removeprefix("http://")
        nginx = NginxServer.from_config_text(
            work, CONF.format(p=work, upstream=upstream, port=port)
        )
        nginx.start()
        try:
            spec = RunSpec(host=f"http://127.0.0.1:{port}", out_dir=tmp_path / "run", users=20,
                           spawn_rate=20, run_time_s=12,
                           locust_config={"wait_min": 0.05, "wait_max": 0.2})  # fmt: skip
            run = run_locust(spec)
        finally:
            nginx.stop()
    server = _server_times(work / "access.log")
    client = run.stats.total()
    assert client.count > 500
    # every request the report counts is in nginx's log (the log may hold a few more: requests
    # in flight when Locust stopped are logged by nginx but never reported)
    assert client.count <= len(server) <= client.count + spec.users
    for p in (0.5, 0.95, 0.99):
        ours = client.percentile(p)
        theirs = exact_percentile(server, p)
        assert ours is not None and theirs is not None
        tolerance = max(5.0, 0.05 * theirs)
        diff = ours - math.floor(theirs)
        print(f"p{p * 100:g}: report {ours} ms, nginx {theirs:.1f} ms, diff {diff:+.1f} ms")
        assert -1 <= diff <= tolerance, (
            f"p{p * 100:g}: report {ours} ms, nginx {theirs:.1f} ms, "
            f"client - server {diff:+.1f} ms (allowed 0..{tolerance:.1f})"
        )
