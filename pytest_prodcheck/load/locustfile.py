"""The shop journey as a Locust user class (runs inside Locust only; never import it in pytest).

Standalone::

    locust -f pytest_prodcheck/load/locustfile.py --host https://shop.example.com \\
           --users 10 --spawn-rate 2 --run-time 2m --headless
    locust -f pytest_prodcheck/load/locustfile.py,pytest_prodcheck/load/shape_spike.py --headless

Optional settings come from a JSON file named by ``PRODCHECK_LOAD_CONFIG`` (the runner writes it
from ``[load]`` in ``prodcheck.toml``)::

    {"paths": {"search": "/v2/search"}, "wait_min": 0.5, "wait_max": 1.5,
     "host_header": "shop.test", "ca_bundle": "/path/ca.pem", "verify": true,
     "accounts": {"email": "user{n}@shop.test", "count": 1000, "seeded": true},
     "returning": 0.9}

(the accounts' password: the shop seed's when ``seeded``, else ``$PRODCHECK_LOAD_ACCOUNT_PASSWORD``;
never in the config file)

``host_header`` sends that ``Host`` header and TLS SNI name while connecting to ``--host``
(curl's ``--resolve``: ``--host https://127.0.0.1:8443`` + ``host_header = "shop.test"``).
Requests are grouped by name (``/api/products/[id]``); AI endpoints keep their ``/api/ai/`` prefix
so thresholds can select them.

Like a real shopper, a user browses anonymously and authenticates only when it first needs to
(cart, checkout). With ``accounts`` (the embedded shop's seeded customers), a ``returning`` share
of the users (default 0.9) use their own existing account, one account per user, and the rest
register a new one; without, every user registers. Returning customers whose account has a
token in ``sessions_file`` (:mod:`pytest_prodcheck.load.sessions`: still logged in from an earlier
visit) send it; the others log in. So a spike of 500 users does not put 500 password hashes on
the site in its first seconds, and login and registration stay in the mix.

The user speaks HTTP through :mod:`pytest_prodcheck.load._client` (one keep-alive connection,
requests prebuilt as bytes, bodies decoded only where the journey reads them): about half the
generator CPU per request of ``FastHttpUser`` (``bench/load_generator.py``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import ssl
import uuid
from typing import Any
from urllib.parse import quote

from locust import User, between, task

from pytest_prodcheck.load._client import LeanSession, Response
from pytest_prodcheck.load.journey import (
    DEFAULT_RETURNING,
    DEFAULT_WAIT_MAX,
    DEFAULT_WAIT_MIN,
    WEIGHTS,
    EndpointPaths,
    account_number,
    is_returning,
)

CONFIG_ENV = "PRODCHECK_LOAD_CONFIG"
WORKERS_ENV = "PRODCHECK_LOAD_WORKERS"
PASSWORD_ENV = "PRODCHECK_LOAD_ACCOUNT_PASSWORD"
SEARCH_TERMS = ("phone", "laptop", "shoe", "coffee", "book", "lamp", "chair", "watch", "bag", "pen")


def _load_config() -> dict[str, Any]:
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


CONFIG = _load_config()
PATHS = EndpointPaths.from_mapping(CONFIG.get("paths") or {})
ACCOUNTS: dict[str, Any] = CONFIG.get("accounts") or {}
RETURNING = float(CONFIG.get("returning", DEFAULT_RETURNING)) if ACCOUNTS else 0.0


def _remembered() -> dict[int, str]:
    """Tokens of returning customers still logged in (``load.sessions``; file deleted after)."""
    path = CONFIG.get("sessions_file")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            return {int(n): str(tok) for n, tok in json.load(fh).items()}
    except (OSError, ValueError):
        return {}


REMEMBERED = _remembered()

# names and prebuilt targets: nothing of this is recomputed per request
N_PRODUCTS = PATHS.products
N_PRODUCT = PATHS.group_name("product")
N_ITEM = PATHS.group_name("cart_item")
SEARCH_URLS = tuple(f"{PATHS.search}?q={quote(t)}" for t in SEARCH_TERMS)
_SEQ = itertools.count()
_RETURNING_SEQ = itertools.count()


def _ssl_context(ca_bundle: str | None, verify: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_bundle:
        ctx.load_verify_locations(cafile=ca_bundle)
    else:
        ctx.load_default_certs()
    return ctx


def _ids(payload: Any, *keys: str) -> list[Any]:
    """Ids found in a JSON list, or in the first list under ``keys`` of a JSON object."""
    items: Any = payload
    if isinstance(payload, dict):
        items = next((payload[k] for k in keys if isinstance(payload.get(k), list)), [])
    if not isinstance(items, list):
        return []
    return [i["id"] for i in items if isinstance(i, dict) and "id" in i]


def _json(resp: Response | None) -> dict[str, Any]:
    data = resp.json() if resp is not None else None
    if isinstance(data, dict):
        return data
    return {"items": data} if isinstance(data, list) else {}


def _account_password() -> str:
    """The seeded accounts' password (public seed data), else ``$PRODCHECK_LOAD_ACCOUNT_PASSWORD``."""
    if ACCOUNTS.get("seeded"):
        from pytest_prodcheck.shop.seed import SEED_PASSWORD

        return SEED_PASSWORD
    return os.environ.get(PASSWORD_ENV, "")


def _token(resp: Response) -> str | None:
    token = _json(resp).get("token") if resp.status in (200, 201) else None
    return token if isinstance(token, str) and token else None


class ShopUser(User):
    """A shopper: browses, searches, asks for recommendations, logs in or registers, buys."""

    wait_time = between(
        float(CONFIG.get("wait_min", DEFAULT_WAIT_MIN)),
        float(CONFIG.get("wait_max", DEFAULT_WAIT_MAX)),
    )
    verify = bool(CONFIG.get("verify", False))
    host_header: str | None = CONFIG.get("host_header") or None
    ssl_context = _ssl_context(CONFIG.get("ca_bundle"), verify)

    def on_start(self) -> None:
        self.client = LeanSession(
            self.host or self.environment.host or "",
            self.environment.events.request,
            host_header=self.host_header,
            ssl_context=self.ssl_context,
        )
        self.account: int | None = None
        self.auth: bytes | None = None  # b"Authorization: Bearer …\r\n" once logged in
        if RETURNING and is_returning(next(_SEQ), RETURNING):
            runner = self.environment.runner
            self.account = account_number(
                next(_RETURNING_SEQ),
                int(getattr(runner, "worker_index", 0) or 0),
                int(os.environ.get(WORKERS_ENV) or 1),
                int(ACCOUNTS.get("count") or 0),
            )
            token = REMEMBERED.get(self.account) if self.account else None
            if token:  # still logged in from an earlier visit
                self.auth = f"Authorization: Bearer {token}\r\n".encode()
        self.category_urls = [f"{N_PRODUCTS}?category={i}" for i in range(1, 11)]
        self.product_ids: list[Any] = list(range(1, 101))
        resp = self.client.request("GET", PATHS.categories)
        ids = _ids(_json(resp), "categories", "items")
        if ids:
            self.category_urls = [f"{N_PRODUCTS}?category={quote(str(i))}" for i in ids]
        resp = self.client.request("GET", f"{N_PRODUCTS}?page_size=50", name=N_PRODUCTS)
        self.product_ids = _ids(_json(resp), "products", "items") or self.product_ids
        self.product_urls = [PATHS.product.format(id=quote(str(i))) for i in self.product_ids]

    def on_stop(self) -> None:
        self.client.close()

    # --- authentication (lazy: the first task that needs it) -----------------------------------
    def _headers(self) -> bytes:
        if self.auth is None:
            token = self._login() if self.account is not None else None
            token = token or self._register()
            self.auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        return self.auth

    def _login(self) -> str | None:
        email = str(ACCOUNTS.get("email", "")).replace("{n}", str(self.account))
        return self._token_from(
            "login", PATHS.login, {"email": email, "password": _account_password()}
        )

    def _register(self) -> str | None:
        email = f"load-{uuid.uuid4().hex[:16]}@example.com"
        payload = {"email": email, "password": uuid.uuid4().hex, "name": "Load Tester"}
        return self._token_from("register", PATHS.register, payload)

    def _token_from(self, what: str, path: str, payload: dict[str, str]) -> str | None:
        """POST ``payload`` to ``path``; the bearer token it answers (``what`` fails without)."""
        resp = self.client.request(
            "POST",
            path,
            body=json.dumps(payload).encode(),
            check=lambda r: None if _token(r) else f"{what}: HTTP {r.status}, no token",
        )
        return _token(resp) if resp is not None else None

    # --- browsing -------------------------------------------------------------------------------
    @task(WEIGHTS["home"])
    def home(self) -> None:
        self.client.request("GET", PATHS.home)

    @task(WEIGHTS["categories"])
    def categories(self) -> None:
        self.client.request("GET", PATHS.categories)

    @task(WEIGHTS["browse_category"])
    def browse_category(self) -> None:
        url = f"{random.choice(self.category_urls)}&page={random.randint(1, 3)}"
        self.client.request("GET", url, name=N_PRODUCTS)

    @task(WEIGHTS["search"])
    def search(self) -> None:
        self.client.request("GET", random.choice(SEARCH_URLS), name=PATHS.search)

    @task(WEIGHTS["product_detail"])
    def product_detail(self) -> None:
        self._get_product()

    @task(WEIGHTS["ai_recommendations"])
    def ai_recommendations(self) -> None:
        pid = quote(str(random.choice(self.product_ids)))
        url = f"{PATHS.recommendations}?product_id={pid}"
        self.client.request("GET", url, name=PATHS.recommendations)

    # --- buying ---------------------------------------------------------------------------------
    @task(WEIGHTS["add_to_cart"])
    def add_to_cart(self) -> None:
        self._add_item(self._get_product())

    @task(WEIGHTS["manage_cart"])
    def manage_cart(self) -> None:
        # the cart as the server has it: adding a product twice merges into one line, so
        # client-side bookkeeping of item ids would PATCH/DELETE lines that are gone
        auth = self._headers()
        cart = _json(self.client.request("GET", PATHS.cart, headers=auth))
        items = [i.get("id") for i in cart.get("items") or [] if isinstance(i, dict)]
        if not items:
            self._add_item(random.choice(self.product_ids))
            self._add_item(random.choice(self.product_ids))
            return
        url = PATHS.cart_item.format(id=quote(str(items[0])))
        body = b'{"quantity": %d}' % random.randint(1, 3)
        self.client.request("PATCH", url, body=body, headers=auth, name=N_ITEM)
        self.client.request("DELETE", url, headers=auth, name=N_ITEM)

    @task(WEIGHTS["checkout"])
    def checkout(self) -> None:
        self._add_item(random.choice(self.product_ids))
        auth = self._headers()
        cart = _json(self.client.request("GET", PATHS.cart, headers=auth))
        body = json.dumps({"cart_id": cart.get("id"), "total": cart.get("total")}).encode()
        self.client.request("POST", PATHS.fraud_check, body=body, headers=auth)
        self.client.request("POST", PATHS.checkout, body=b"{}", headers=auth)

    # --- helpers --------------------------------------------------------------------------------
    def _get_product(self) -> Any:
        i = random.randrange(len(self.product_urls))
        self.client.request("GET", self.product_urls[i], name=N_PRODUCT)
        return self.product_ids[i]

    def _add_item(self, pid: Any) -> None:
        body = json.dumps({"product_id": pid, "quantity": random.randint(1, 2)}).encode()
        self.client.request("POST", PATHS.cart_items, body=body, headers=self._headers())
