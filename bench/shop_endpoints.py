"""Benchmark: the shop's user journey through PgBouncer, per-endpoint latency and throughput.

    .venv/bin/python bench/shop_endpoints.py [--users 20] [--seconds 20] [--workers 1]

Starts PostgreSQL (stack template) + PgBouncer (the guide's settings) + the shop under uvicorn
(direct HTTP, no nginx/TLS), then K threads each loop the journey: login once, then home,
categories, a category page, search, product detail, AI recommendations, add to cart, update,
remove, fraud check, checkout. Prints exact p50/p95/p99 per endpoint from raw timings. The
client runs on the same 2 cores as the system under test, so this is a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections import defaultdict

import requests

from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.shop import seed
from pytest_prodcheck.shop.process import ShopServer
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer

timings: dict[str, list[float]] = defaultdict(list)
errors: dict[str, int] = defaultdict(int)
lock = threading.Lock()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def user(base: str, n: int, stop: float) -> None:
    s = requests.Session()
    s.trust_env = False
    rnd = random.Random(n)

    def call(
        name: str, method: str, path: str, ok: tuple[int, ...] = (200,), **kw
    ) -> requests.Response:
        t = time.perf_counter()
        r = s.request(method, base + path, timeout=30, **kw)
        dt = time.perf_counter() - t
        with lock:
            timings[name].append(dt)
            if r.status_code not in ok:
                errors[name] += 1
        return r

    body = {"email": seed.seed_user_email(1 + n % seed.USERS), "password": seed.SEED_PASSWORD}
    token = call("POST /api/auth/login", "POST", "/api/auth/login", json=body).json()["token"]
    s.headers["Authorization"] = f"Bearer {token}"
    while time.monotonic() < stop:
        pid = rnd.randint(1, seed.PRODUCTS)
        call("GET /", "GET", "/")
        call("GET /api/categories", "GET", "/api/categories")
        call("GET /api/products?category", "GET", f"/api/products?category={rnd.randint(1, 50)}")
        call("GET /api/search", "GET", "/api/search", params={"q": rnd.choice(seed.NOUNS)})
        call("GET /api/products/[id]", "GET", f"/api/products/{pid}")
        call("GET /api/ai/recommendations", "GET", f"/api/ai/recommendations?product_id={pid}")
        item = call("POST /api/cart/items", "POST", "/api/cart/items", (201,),
                    json={"product_id": pid, "quantity": 1}).json()  # fmt: skip
        call("PATCH /api/cart/items/[id]", "PATCH", f"/api/cart/items/{item['id']}",
             json={"quantity": 2})  # fmt: skip
        extra = call("POST /api/cart/items", "POST", "/api/cart/items", (201,),
                     json={"product_id": 1 + pid % seed.PRODUCTS, "quantity": 1}).json()  # fmt: skip
        call("DELETE /api/cart/items/[id]", "DELETE", f"/api/cart/items/{extra['id']}", (204,))
        call("GET /api/cart", "GET", "/api/cart")
        call("POST /api/ai/fraud-check", "POST", "/api/ai/fraud-check", json={})
        call("POST /api/checkout", "POST", "/api/checkout", (201,))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    pg = PostgresServer(make_tempdir("bench-shop-pg-")).start()
    pgb = PgBouncerServer(make_tempdir("bench-shop-pgb-"), pg).start()
    shop = ShopServer(pgb.dsn("ecommerce"), pgb.dsn("ai"), workers=args.workers).start()
    try:
        stop = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=user, args=(shop.url, n, stop)) for n in range(args.users)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    finally:
        shop.stop()
        pgb.stop()
        pg.destroy()
    total = sum(len(v) for v in timings.values())
    every = [x for v in timings.values() for x in v]
    print(f"users={args.users} seconds={args.seconds:g} workers={args.workers}: "
          f"{total} requests, {total / wall:.0f} req/s, errors {sum(errors.values())}")  # fmt: skip
    print(f"{'endpoint':32s} {'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'err':>4s}")
    for name in sorted(timings):
        v = timings[name]
        print(f"{name:32s} {len(v):6d} {percentile(v, .5) * 1e3:8.1f} "
              f"{percentile(v, .95) * 1e3:8.1f} {percentile(v, .99) * 1e3:8.1f} {errors[name]:4d}")  # fmt: skip
    print(f"{'ALL':32s} {len(every):6d} {statistics.median(every) * 1e3:8.1f} "
          f"{percentile(every, .95) * 1e3:8.1f} {percentile(every, .99) * 1e3:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
