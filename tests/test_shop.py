"""The reference shop end to end: real PostgreSQL, real PgBouncer, uvicorn in a subprocess, HTTP.

One PostgreSQL (copied from the stack's seeded template) and one PgBouncer (the guide's
transaction pooling) serve the module; the shop runs through PgBouncer as in the stack.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.shop import seed
from pytest_prodcheck.shop.hotpaths import HOT_PATHS, check_hot_path, check_hot_paths
from pytest_prodcheck.shop.migrate import fingerprint, migrate
from pytest_prodcheck.shop.process import ShopServer
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer

_emails = itertools.count(1)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg():
    server = PostgresServer(make_tempdir("shop-pg-")).start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def bouncer(pg):
    b = PgBouncerServer(make_tempdir("shop-pgb-"), pg).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def shop(bouncer):
    server = ShopServer(bouncer.dsn("ecommerce"), bouncer.dsn("ai")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http():
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE & co. are set system-wide on these machines
    yield s
    s.close()


class Api:
    """``api.get("/api/cart", token=t)`` against the shop, with a timeout on every call."""

    def __init__(self, base: str, session: requests.Session) -> None:
        self.base, self.session = base, session

    def call(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base + path, headers=headers, timeout=15, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.call("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.call("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)

    def register(self) -> tuple[int, str]:
        email = f"shopper{next(_emails)}-{time.time_ns()}@example.com"
        r = self.post(
            "/api/auth/register", json={"email": email, "password": "s3cret-pass", "name": "T"}
        )
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["token"]


@pytest.fixture(scope="module")
def api(shop, http):
    return Api(shop.url, http)


def assert_error(r: requests.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and body["error"], body
    return str(body["error"])


# --- migrate and seed -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_dbs(pg):
    """Two empty databases owned by the app role, migrated once here (timed)."""
    pg.create_database("fresh_main")
    pg.create_database("fresh_ai")
    dsn, ai = pg.dsn("fresh_main"), pg.dsn("fresh_ai")
    first = migrate(dsn, ai)
    return dsn, ai, first


def test_migrate_seeds_an_empty_database(fresh_dbs):
    dsn, ai, first = fresh_dbs
    assert first.main_seeded and first.ai_seeded
    with psycopg.connect(dsn) as conn:
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("categories", "products", "users")
        }
        owner = conn.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'products'"
        ).fetchone()
    assert counts == {"categories": 50, "products": seed.PRODUCTS, "users": seed.USERS}
    assert owner == ("app",)
    with psycopg.connect(ai) as conn:
        assert conn.execute("SELECT count(*) FROM product_features").fetchone() == (seed.PRODUCTS,)
        pairs = conn.execute("SELECT count(*) FROM co_purchases").fetchone()
    assert pairs == (seed.PRODUCTS * len(seed.CO_PURCHASE_OFFSETS),)


def test_migrate_is_idempotent_and_deterministic(fresh_dbs, pg):
    dsn, ai, _ = fresh_dbs
    again = migrate(dsn, ai)
    assert not again.main_seeded and not again.ai_seeded
    # the same rows as the stack's template, which was seeded on another day by another process
    query = "SELECT md5(string_agg(id || name || price_cents, ',' ORDER BY id)) FROM products"
    with psycopg.connect(dsn) as a, psycopg.connect(pg.dsn("ecommerce")) as b:
        assert a.execute(query).fetchone() == b.execute(query).fetchone()
        assert a.execute("SELECT count(*) FROM products").fetchone() == (seed.PRODUCTS,)


def test_migrate_as_superuser_creates_objects_owned_by_the_database_owner(pg):
    pg.create_database("su_main")
    pg.create_database("su_ai")
    migrate(pg.dsn("su_main", user="postgres"), pg.dsn("su_ai", user="postgres"))
    with psycopg.connect(pg.dsn("su_main")) as conn:  # the app role can use what was created
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (seed.PRODUCTS,)


def test_fingerprint_follows_schema_and_seed_version(monkeypatch):
    before = fingerprint()
    assert before == fingerprint() and len(before) == 16
    monkeypatch.setattr(seed, "SEED_VERSION", seed.SEED_VERSION + 1)
    assert fingerprint() != before


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_prodcheck.shop", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_migrate_cli_reports_up_to_date(fresh_dbs):
    dsn, ai, _ = fresh_dbs
    res = _cli("migrate", "--dsn", dsn, "--ai-dsn", ai)
    assert res.returncode == 0, res.stderr
    assert "already up to date" in res.stderr


def test_migrate_cli_unreachable_database_is_one_masked_line_exit_3():
    port = free_port()
    url = f"postgresql://app:hunter2-secret@127.0.0.1:{port}/ecommerce"
    res = _cli("migrate", "--dsn", url, "--ai-dsn", url)
    assert res.returncode == 3
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0], res.stderr
    assert "hunter2-secret" not in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["migrate", "--dsn", "postgresql://a:b@127.0.0.1:1/x"], "--ai-dsn is required"),
        (["migrate", "--dsn", "not a dsn", "--ai-dsn", "nope"], "not a PostgreSQL DSN"),
        (["serve", "--port", "8000"], "PRODCHECK_SHOP_DSN is not set"),
        (["serve", "--port", "70000"], "--port 70000"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, needle):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODCHECK_SHOP")}
    res = _cli(*args, env=env)
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


# --- indexes on the hot paths (performance.db-indexes) ----------------------------------------


def test_hot_paths_use_indexes(pg):
    results = check_hot_paths(pg.dsn("ecommerce"), pg.dsn("ai"))
    assert {r.id for r in results} == {f"db-index.{p.name}" for p in HOT_PATHS}
    assert all(r.status == "pass" for r in results), [r for r in results if r.status != "pass"]


@pytest.mark.parametrize(
    ("database", "drop", "path"),
    [
        ("ecommerce", "DROP INDEX products_category_id_idx", "products-by-category"),
        ("ecommerce", "DROP INDEX products_search_idx", "search"),
        ("ecommerce", "DROP INDEX users_email_key", "login"),
        ("ecommerce", "ALTER TABLE sessions DROP CONSTRAINT sessions_pkey", "session"),
        ("ecommerce", "DROP INDEX carts_open_user_idx", "open-cart"),
        (
            "ecommerce",
            "DROP INDEX cart_items_cart_id_idx;"
            " ALTER TABLE cart_items DROP CONSTRAINT cart_items_cart_product_key",
            "cart-items",
        ),
        (
            "ai",
            "DROP INDEX co_purchases_rank_idx; ALTER TABLE co_purchases DROP CONSTRAINT co_purchases_pkey",
            "recommendations",
        ),
        ("ai", "DROP INDEX fraud_checks_user_idx", "recent-fraud-checks"),
    ],
)
def test_hot_path_check_fails_without_its_index(pg, database, drop, path):
    hot = next(p for p in HOT_PATHS if p.name == path)
    with psycopg.connect(pg.dsn(database)) as conn:
        assert check_hot_path(conn, hot).status == "pass"
        conn.execute(drop.encode())  # inside the open transaction: rolled back below
        result = check_hot_path(conn, hot)
        conn.rollback()
    assert result.status == "fail", result
    assert "Seq Scan" in result.observed or "full Index" in result.observed, result
    assert result.id == f"db-index.{path}"


# --- site: home, static, health, metrics ------------------------------------------------------


def test_home_is_html_with_categories_and_assets(api):
    r = api.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for needle in (
        "/static/app.css",
        "/static/app.js",
        "/static/logo.svg",
        "Electronics",
        "<li data-id",
    ):
        assert needle in r.text


@pytest.mark.parametrize(
    ("name", "ctype"),
    [("app.css", "text/css"), ("app.js", "javascript"), ("logo.svg", "image/svg")],
)
def test_static_assets_exist(api, name, ctype):
    r = api.get(f"/static/{name}")
    assert r.status_code == 200 and ctype in r.headers["content-type"] and len(r.content) > 100


def test_health_ok(api):
    r = api.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "databases": {"main": "ok", "ai": "ok"}}


@pytest.fixture(scope="module")
def broken_shop(http):
    """A shop whose AI database is unreachable (nothing listens on its port)."""
    dead = f"postgresql://app:pw@127.0.0.1:{free_port()}/ai"
    env = {"PRODCHECK_SHOP_POOL_TIMEOUT": "1"}  # fail fast instead of waiting 10 s for a connection
    server = ShopServer(dead.replace("/ai", "/ecommerce"), dead, env=env).start()
    yield Api(server.url, http)
    server.stop()


def test_health_503_and_json_errors_when_the_database_is_down(broken_shop):
    r = broken_shop.get("/health")
    assert r.status_code == 503
    assert r.json() == {
        "status": "unavailable",
        "databases": {"main": "unavailable", "ai": "unavailable"},
    }
    assert "database" in assert_error(broken_shop.get("/api/categories"), 503)


def test_metrics_prometheus_text(api):
    api.get("/api/products/7")
    api.get("/api/products/8")
    api.get("/api/products/999999")
    r = api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "text/plain; version=0.0.4"
    )
    text = r.text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith(
            'shop_http_requests_total{method="GET",route="/api/products/{id}",status="200"}'
        )
    )
    assert int(line.split()[-1]) >= 2
    assert 'route="/api/products/{id}",status="404"}' in text
    assert "/api/products/7" not in text  # raw paths never become labels
    assert "# TYPE shop_http_request_duration_seconds histogram" in text
    assert 'shop_http_request_duration_seconds_bucket{route="/api/products/{id}",le="+Inf"}' in text
    for series in ("shop_db_pool_size", "shop_db_pool_available", "shop_db_pool_requests_waiting"):
        assert f'{series}{{db="main"}}' in text and f'{series}{{db="ai"}}' in text


def test_no_cors_headers_for_foreign_origins(api):
    evil = {"Origin": "https://evil.example"}
    for r in (
        api.get("/api/products", headers=evil),
        api.call("OPTIONS", "/api/cart", headers={**evil, "Access-Control-Request-Method": "POST"}),
    ):
        assert not any(h.lower().startswith("access-control-") for h in r.headers), r.headers
        assert r.status_code < 500


def test_unknown_route_and_method_are_json(api):
    assert assert_error(api.get("/nope"), 404) == "not found"
    assert assert_error(api.delete("/api/categories"), 405) == "method not allowed"


# --- catalogue --------------------------------------------------------------------------------


def test_categories(api):
    items = api.get("/api/categories").json()["items"]
    assert len(items) == 50 and items[0] == {"id": 1, "slug": "electronics", "name": "Electronics"}


def test_products_paging_and_category_filter(api):
    first = api.get("/api/products?page_size=5").json()
    assert [p["id"] for p in first["items"]] == [1, 2, 3, 4, 5] and first["has_more"]
    second = api.get("/api/products?page=2&page_size=5").json()
    assert [p["id"] for p in second["items"]] == [6, 7, 8, 9, 10]
    by_slug = api.get("/api/products?category=phones&page_size=100").json()
    by_id = api.get("/api/products?category=3&page_size=100").json()
    assert by_slug == by_id and len(by_slug["items"]) == 100
    assert {p["category_id"] for p in by_slug["items"]} == {3}
    last = api.get("/api/products?category=3&page=2&page_size=100").json()
    assert last["items"] == [] and not last["has_more"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=0", 400),
        ("page=abc", 400),
        ("page_size=1000", 400),
        ("page_size=-1", 400),
        ("page=99999999999999999999", 400),
        ("category=no-such-category", 404),
        ("category=999999", 404),
        ("category=12345678901234567890", 404),
    ],
)
def test_products_bad_query(api, query, status):
    assert_error(api.get(f"/api/products?{query}"), status)


def test_search_finds_by_words_and_prefixes(api):
    items = api.get("/api/search", params={"q": "Wireless lamp"}).json()["items"]
    assert items and all("Lamp" in p["name"] for p in items)  # "wireless" may be in the description
    assert any("Wireless Lamp" in p["name"] for p in items)
    prefix = api.get("/api/search", params={"q": "backp"}).json()["items"]
    assert prefix and all("Backpack" in p["name"] for p in prefix)
    assert api.get("/api/search", params={"q": "zzzzqqq"}).json()["items"] == []


@pytest.mark.parametrize("q", [None, "", "!!! ???", "x" * 201])
def test_search_bad_query(api, q):
    params = {} if q is None else {"q": q}
    assert_error(api.get("/api/search", params=params), 400)


def test_product_detail(api):
    p = api.get("/api/products/42").json()
    assert p["id"] == 42 and p["sku"] == "SKU-000042" and p["category"] and p["description"]
    assert p["price"] == p["price_cents"] / 100 and p["stock"] > 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/products/999999",
        "/api/products/0",
        "/api/products/abc",
        "/api/products/99999999999999",
        "/api/products/-1",
    ],
)
def test_product_detail_unknown(api, path):
    assert_error(api.get(path), 404)


# --- AI -----------------------------------------------------------------------------------------


def test_recommendations_blend_co_purchases_and_category(api):
    r = api.get("/api/ai/recommendations?product_id=42&limit=10")
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 10 and 42 not in {i["id"] for i in items}
    assert {i["reason"] for i in items} == {"bought-together", "same-category"}
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("product_id=abc", 400),
        ("product_id=0", 400),
        ("product_id=999999", 404),
        ("product_id=1&limit=500", 400),
    ],
)
def test_recommendations_bad_input(api, query, status):
    assert_error(api.get(f"/api/ai/recommendations?{query}"), status)


# --- accounts -----------------------------------------------------------------------------------


def test_register_returns_token_and_secure_cookie_and_stores_hashes(api, pg):
    email = f"new-{time.time_ns()}@example.com"
    r = api.post(
        "/api/auth/register", json={"email": email, "password": "pa55word!", "name": "New"}
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "token"} and len(body["token"]) >= 40
    cookie = r.headers["set-cookie"]
    for attr in ("session=", "Secure", "HttpOnly", "SameSite=lax", "Path=/"):
        assert attr.lower() in cookie.lower()
    with psycopg.connect(pg.dsn("ecommerce")) as conn:
        stored = conn.execute(
            "SELECT password_hash FROM users WHERE id = %s", [body["id"]]
        ).fetchone()[0]  # type: ignore[index]
        tokens = conn.execute(
            "SELECT count(*) FROM sessions WHERE user_id = %s AND token_hash = %s",
            [body["id"], body["token"].encode()],
        ).fetchone()
    assert stored.startswith("scrypt$8192$8$1$") and "pa55word!" not in stored
    assert tokens == (0,)  # only the SHA-256 of the token is stored
    assert_error(
        api.post(
            "/api/auth/register",
            json={"email": email.upper(), "password": "pa55word!", "name": "Dup"},
        ),
        409,
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"",
        {"password": "pa55word!", "name": "x"},
        {"email": "a@b.co", "name": "x"},
        {"email": "a@b.co", "password": "pa55word!"},
        {"email": "not-an-email", "password": "pa55word!", "name": "x"},
        {"email": "a@b.co", "password": "short", "name": "x"},
        {"email": 5, "password": "pa55word!", "name": "x"},
        {"email": "a@b.co", "password": ["pa55word!"], "name": "x"},
        {"email": "a@b.co", "password": "pa55word!", "name": ""},
        {"email": "a@b.co", "password": "pa55word!", "name": "x" * 101},
    ],
)
def test_register_bad_input(api, body):
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert_error(api.post("/api/auth/register", **kw), 400)


def test_login_seeded_user_sets_cookie(api):
    r = api.post(
        "/api/auth/login", json={"email": seed.seed_user_email(3), "password": seed.SEED_PASSWORD}
    )
    assert r.status_code == 200 and set(r.json()) == {"token"}
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    # the cookie alone authenticates
    r2 = api.get("/api/cart", headers={"Cookie": f"session={r.json()['token']}"})
    assert r2.status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": seed.seed_user_email(3), "password": "wrong-password"}, 401),
        ({"email": "nobody@example.com", "password": "whatever1"}, 401),
        ({"email": seed.seed_user_email(3)}, 400),
        ({"email": seed.seed_user_email(3), "password": 12345678}, 400),
        (b"nope", 400),
    ],
)
def test_login_refused(api, body, status):
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert_error(api.post("/api/auth/login", **kw), status)


# --- cart, fraud check, checkout -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/cart"),
        ("POST", "/api/cart/items"),
        ("PATCH", "/api/cart/items/1"),
        ("DELETE", "/api/cart/items/1"),
        ("POST", "/api/checkout"),
        ("POST", "/api/ai/fraud-check"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_cart_endpoints_refuse_without_valid_auth(api, method, path, auth):
    headers = {"Authorization": auth} if auth is not None else {}
    assert_error(
        api.call(method, path, headers=headers, json={"product_id": 1, "quantity": 1}), 401
    )


def test_cart_add_update_remove(api):
    _, token = api.register()
    assert api.get("/api/cart", token=token).json() == {
        "id": None,
        "items": [],
        "total_cents": 0,
        "total": 0.0,
    }
    a = api.post("/api/cart/items", token=token, json={"product_id": 10, "quantity": 2})
    assert a.status_code == 201
    b = api.post("/api/cart/items", token=token, json={"product_id": 11, "quantity": 1}).json()
    again = api.post("/api/cart/items", token=token, json={"product_id": 10, "quantity": 3}).json()
    assert again["id"] == a.json()["id"] and again["quantity"] == 5  # same line, quantities add up
    upd = api.patch(f"/api/cart/items/{b['id']}", token=token, json={"quantity": 4})
    assert upd.status_code == 200 and upd.json()["quantity"] == 4
    cart = api.get("/api/cart", token=token).json()
    assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(10, 5), (11, 4)]
    assert cart["total_cents"] == sum(i["price_cents"] * i["quantity"] for i in cart["items"])
    assert api.delete(f"/api/cart/items/{b['id']}", token=token).status_code == 204
    assert_error(api.delete(f"/api/cart/items/{b['id']}", token=token), 404)
    assert [i["product_id"] for i in api.get("/api/cart", token=token).json()["items"]] == [10]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"product_id": 10, "quantity": -1}, 400),
        ({"product_id": 10, "quantity": 0}, 400),
        ({"product_id": 10, "quantity": 1001}, 400),
        ({"product_id": 10, "quantity": "2"}, 400),
        ({"product_id": 10, "quantity": 1.5}, 400),
        ({"product_id": 10, "quantity": True}, 400),
        ({"product_id": "10", "quantity": 1}, 400),
        ({"quantity": 1}, 400),
        ({"product_id": 10}, 400),
        ({"product_id": 999999, "quantity": 1}, 404),
        ({"product_id": 2**40, "quantity": 1}, 400),
        (b"{", 400),
        (b"null", 400),
    ],
)
def test_cart_add_bad_input(api, body, status):
    _, token = api.register()
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert_error(api.post("/api/cart/items", token=token, **kw), status)


def test_cart_quantity_cap_applies_to_the_sum(api):
    _, token = api.register()
    api.post("/api/cart/items", token=token, json={"product_id": 12, "quantity": 900})
    assert_error(
        api.post("/api/cart/items", token=token, json={"product_id": 12, "quantity": 200}), 400
    )


def test_cart_items_of_another_user_are_invisible(api):
    _, alice = api.register()
    _, bob = api.register()
    item = api.post("/api/cart/items", token=alice, json={"product_id": 20, "quantity": 1}).json()
    assert_error(api.patch(f"/api/cart/items/{item['id']}", token=bob, json={"quantity": 2}), 404)
    assert_error(api.delete(f"/api/cart/items/{item['id']}", token=bob), 404)
    assert api.get("/api/cart", token=alice).json()["items"][0]["quantity"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/cart/items/999999", {"quantity": 1}, 404),
        ("/api/cart/items/99999999999", {"quantity": 1}, 404),
        ("/api/cart/items/abc", {"quantity": 1}, 404),
        ("ITEM", {"quantity": -3}, 400),
        ("ITEM", {"quantity": "many"}, 400),
        ("ITEM", {}, 400),
        ("ITEM", b"][", 400),
    ],
)
def test_cart_update_bad_input(api, path, body, status):
    _, token = api.register()
    item = api.post("/api/cart/items", token=token, json={"product_id": 30, "quantity": 1}).json()
    url = f"/api/cart/items/{item['id']}" if path == "ITEM" else path
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert_error(api.patch(url, token=token, **kw), status)


def _fraud_rows(pg, user_id: int) -> int:
    with psycopg.connect(pg.dsn("ai")) as conn:
        row = conn.execute("SELECT count(*) FROM fraud_checks WHERE user_id = %s", [user_id])
        return int(row.fetchone()[0])  # type: ignore[index]


def test_fraud_check_scores_cart_or_total_and_writes_to_ai_db(api, pg):
    user_id, token = api.register()
    item = api.post("/api/cart/items", token=token, json={"product_id": 5, "quantity": 2}).json()
    by_cart = api.post("/api/ai/fraud-check", token=token, json={"cart_id": item["cart_id"]})
    assert by_cart.status_code == 200
    body = by_cart.json()
    assert body["total_cents"] == 2 * item["price_cents"] and body["decision"] == "approve"
    assert 0 <= body["score"] < 0.5
    implicit = api.post("/api/ai/fraud-check", token=token).json()  # the open cart by default
    assert implicit["cart_id"] == item["cart_id"]
    big = api.post("/api/ai/fraud-check", token=token, json={"total": 9_000_000}).json()
    assert big["decision"] in ("review", "reject") and big["score"] > body["score"]
    assert _fraud_rows(pg, user_id) == 3


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"total": -5}, 400),
        ({"total": "100"}, 400),
        ({"total": True}, 400),
        ({"total": 1e12}, 400),
        ({"cart_id": "x"}, 400),
        ({"cart_id": 999999}, 404),
        ({}, 400),  # no cart yet and no total
        (b"{]", 400),
    ],
)
def test_fraud_check_bad_input(api, body, status):
    _, token = api.register()
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert_error(api.post("/api/ai/fraud-check", token=token, **kw), status)


def test_fraud_check_refuses_another_users_cart(api):
    _, alice = api.register()
    _, bob = api.register()
    cart_id = api.post(
        "/api/cart/items", token=alice, json={"product_id": 5, "quantity": 1}
    ).json()["cart_id"]
    assert_error(api.post("/api/ai/fraud-check", token=bob, json={"cart_id": cart_id}), 404)


def test_checkout_places_order_takes_stock_and_closes_cart(api, pg):
    _, token = api.register()
    assert_error(api.post("/api/checkout", token=token), 409)  # nothing in the cart yet
    stock_before = api.get("/api/products/77").json()["stock"]
    api.post("/api/cart/items", token=token, json={"product_id": 77, "quantity": 3})
    api.post("/api/cart/items", token=token, json={"product_id": 78, "quantity": 1})
    r = api.post("/api/checkout", token=token, json={})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "placed" and [i["product_id"] for i in order["items"]] == [77, 78]
    assert order["total_cents"] == sum(i["price_cents"] * i["quantity"] for i in order["items"])
    assert api.get("/api/products/77").json()["stock"] == stock_before - 3
    assert api.get("/api/cart", token=token).json()["items"] == []
    assert_error(api.post("/api/checkout", token=token), 409)  # the cart is closed
    assert_error(api.post("/api/checkout", token=token, data=b"{oops"), 400)
    with psycopg.connect(pg.dsn("ecommerce")) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM order_items WHERE order_id = %s", [order["id"]]
        ).fetchone()
    assert rows == (2,)


def test_checkout_refuses_more_than_the_stock(api, pg):
    _, token = api.register()
    with psycopg.connect(pg.dsn("ecommerce")) as conn:
        conn.execute("UPDATE products SET stock = 1 WHERE id = 4999")
    try:
        api.post("/api/cart/items", token=token, json={"product_id": 4999, "quantity": 2})
        assert "stock" in assert_error(api.post("/api/checkout", token=token), 409)
        assert api.get("/api/products/4999").json()["stock"] == 1  # nothing taken
    finally:
        with psycopg.connect(pg.dsn("ecommerce")) as conn:
            conn.execute("UPDATE products SET stock = %s WHERE id = 4999", [seed.INITIAL_STOCK])


def test_concurrent_requests_through_pgbouncer_never_fail(api):
    """Repeated identical queries on many connections: would break with server-side prepares."""
    from concurrent.futures import ThreadPoolExecutor

    def hit(i: int) -> int:
        s = requests.Session()
        s.trust_env = False
        codes = [
            s.get(f"{api.base}/api/products/{1 + i % 50}", timeout=15).status_code for _ in range(8)
        ]
        return max(codes)

    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(hit, range(24))) == {200}


def test_no_request_in_this_module_produced_a_500(api):
    text = api.get("/metrics").text
    assert 'status="500"' not in text


# --- process lifecycle --------------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_serve_exits_cleanly_on_signal(bouncer, sig):
    import signal as _signal

    server = ShopServer(bouncer.dsn("ecommerce"), bouncer.dsn("ai")).start()
    try:
        assert requests.get(server.url + "/health", timeout=10).status_code == 200
        pid = server.process.pid
        os.kill(pid, getattr(_signal, sig))
        assert server.process.wait(10) == 0
        log = server.log_path.read_text()
        assert "Shutting down" in log and "Traceback" not in log
    finally:
        server.stop()
    ps = subprocess.run(["ps", "-o", "pid=", "--pid", str(pid)], capture_output=True, text=True)
    assert ps.stdout.strip() == ""


def test_dsn_passwords_are_not_in_the_command_line(shop, bouncer):
    cmdline = Path(f"/proc/{shop.process.pid}/cmdline").read_bytes().decode()
    assert all(pw not in cmdline for pw in bouncer.passwords())


# --- capacity: workers per core, caching ------------------------------------------------------


def test_workers_default_to_the_cores_and_metrics_sum_across_them(shop):
    from pytest_prodcheck.shop.__main__ import cpu_cores

    workers = cpu_cores()
    for _ in range(40):  # a new connection each: the kernel spreads them over the workers
        assert requests.get(shop.url + "/api/products/7", timeout=10).status_code == 200
    time.sleep(1.5)  # every worker publishes its snapshot once a second

    def count(text: str) -> int:
        prefix = 'shop_http_requests_total{method="GET",route="/api/products/{id}",status="200"}'
        return int(next(ln for ln in text.splitlines() if ln.startswith(prefix)).split()[-1])

    seen = []
    for _ in range(6):
        text = requests.get(shop.url + "/metrics", timeout=10).text
        assert f"shop_workers {workers}" in text
        rss = next(ln for ln in text.splitlines() if ln.startswith("process_resident_memory"))
        assert float(rss.split()[-1]) > 10e6
        seen.append(count(text))
    assert min(seen) >= 40 and seen == sorted(seen)  # whichever worker answers: monotonic


def test_catalogue_and_sessions_are_cached_for_the_ttl_and_detail_never(bouncer, pg):
    from pytest_prodcheck.shop.auth import token_digest

    server = ShopServer(
        bouncer.dsn("ecommerce"), bouncer.dsn("ai"), workers=1,
        env={"PRODCHECK_SHOP_CACHE_TTL": "2"},
    ).start()  # fmt: skip
    api = Api(server.url, requests.Session())
    try:
        _, token = api.register()
        assert api.get("/api/cart", token=token).status_code == 200
        before = api.get("/api/categories").json()["items"][0]["name"]
        stock = api.get("/api/products/42").json()["stock"]
        with psycopg.connect(pg.dsn("ecommerce"), autocommit=True) as conn:
            conn.execute("UPDATE categories SET name = name || ' (renamed)' WHERE id = 1")
            conn.execute("UPDATE products SET stock = stock - 1 WHERE id = 42")
            conn.execute("DELETE FROM sessions WHERE token_hash = %s", [token_digest(token)])
        try:
            assert api.get("/api/categories").json()["items"][0]["name"] == before  # cached
            assert api.get("/api/products/42").json()["stock"] == stock - 1  # never cached
            assert api.get("/api/cart", token=token).status_code == 200  # session cached
            time.sleep(2.5)
            assert api.get("/api/categories").json()["items"][0]["name"] == before + " (renamed)"
            assert api.get("/api/cart", token=token).status_code == 401  # revocation seen
        finally:
            with psycopg.connect(pg.dsn("ecommerce"), autocommit=True) as conn:
                conn.execute("UPDATE categories SET name = %s WHERE id = 1", [before])
                conn.execute("UPDATE products SET stock = stock + 1 WHERE id = 42")
    finally:
        server.stop()
