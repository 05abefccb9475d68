"""The shop journey as a Locust user class (runs inside Locust only; never import it in pytest).

Standalone::

    locust -f pytest_prodcheck/load/locustfile.py --host https://shop.example.com \\
           --users 10 --spawn-rate 2 --run-time 2m --headless
    locust -f pytest_prodcheck/load/locustfile.py,pytest_prodcheck/load/shape_spike.py --headless

Optional settings come from a JSON file named by ``PRODCHECK_LOAD_CONFIG`` (the runner writes it
from ``[load]`` in ``prodcheck.toml``)::

    {"paths": {"search": "/v2/search"}, "wait_min": 0.5, "wait_max": 1.5,
     "host_header": "shop.test", "ca_bundle": "/path/ca.pem", "verify": true}

``host_header`` sends that ``Host`` header and TLS SNI name while connecting to ``--host``
(curl's ``--resolve``: ``--host https://127.0.0.1:8443`` + ``host_header = "shop.test"``).
Requests are grouped by name (``/api/products/[id]``); AI endpoints keep their ``/api/ai/`` prefix
so thresholds can select them.
"""

from __future__ import annotations

import json
import os
import random
import ssl
import uuid
from collections.abc import Callable
from typing import Any

from locust import FastHttpUser, between, task

from pytest_prodcheck.load.journey import (
    DEFAULT_WAIT_MAX,
    DEFAULT_WAIT_MIN,
    WEIGHTS,
    EndpointPaths,
)

CONFIG_ENV = "PRODCHECK_LOAD_CONFIG"
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


class _SNIContext(ssl.SSLContext):
    """Sends ``sni_name`` as TLS SNI and checks the certificate against it (not the address)."""

    sni_name: str | None = None

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        if self.sni_name:
            kwargs["server_hostname"] = self.sni_name
        return super().wrap_socket(sock, *args, **kwargs)


def _ssl_factory(
    ca_bundle: str | None, sni_name: str | None, verify: bool
) -> Callable[..., ssl.SSLContext]:
    def factory(cafile: str | None = None) -> ssl.SSLContext:
        ctx = _SNIContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.sni_name = sni_name
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif ca_bundle:
            ctx.load_verify_locations(cafile=ca_bundle)
        else:
            ctx.load_default_certs()
        return ctx

    return factory


def _ids(payload: Any, *keys: str) -> list[Any]:
    """Ids found in a JSON list, or in the first list under ``keys`` of a JSON object."""
    items: Any = payload
    if isinstance(payload, dict):
        items = next((payload[k] for k in keys if isinstance(payload.get(k), list)), [])
    if not isinstance(items, list):
        return []
    return [i["id"] for i in items if isinstance(i, dict) and "id" in i]


class ShopUser(FastHttpUser):
    """A shopper: registers, browses, searches, asks for recommendations, fills a cart, buys."""

    wait_time = between(
        float(CONFIG.get("wait_min", DEFAULT_WAIT_MIN)),
        float(CONFIG.get("wait_max", DEFAULT_WAIT_MAX)),
    )
    insecure = not CONFIG.get("verify", False)
    if CONFIG.get("host_header"):
        default_headers = {"Host": str(CONFIG["host_header"])}
    if CONFIG.get("host_header") or CONFIG.get("ca_bundle"):
        ssl_context_factory = _ssl_factory(
            CONFIG.get("ca_bundle"), CONFIG.get("host_header"), not insecure
        )

    def on_start(self) -> None:
        self.auth: dict[str, str] = {}
        self.product_ids: list[Any] = list(range(1, 101))
        self.category_ids: list[Any] = list(range(1, 11))
        email = f"load-{uuid.uuid4().hex[:16]}@example.com"
        password = uuid.uuid4().hex
        body = {"email": email, "password": password, "name": "Load Tester"}
        with self.client.post(PATHS.register, json=body, catch_response=True) as resp:
            token = _json(resp).get("token") if resp.status_code in (200, 201) else None
            if not token:
                resp.failure(f"register: HTTP {resp.status_code}, no token")
        if not token:
            login = {"email": email, "password": password}
            with self.client.post(PATHS.login, json=login, catch_response=True) as resp:
                token = _json(resp).get("token")
                if not token:
                    resp.failure(f"login: HTTP {resp.status_code}, no token")
        if token:
            self.auth = {"Authorization": f"Bearer {token}"}
        with self.client.get(PATHS.categories, catch_response=True) as resp:
            self.category_ids = _ids(_json(resp), "categories", "items") or self.category_ids
        with self.client.get(
            PATHS.products, params={"page_size": 50}, name=PATHS.products, catch_response=True
        ) as resp:
            self.product_ids = _ids(_json(resp), "products", "items") or self.product_ids

    # --- browsing -------------------------------------------------------------------------------
    @task(WEIGHTS["home"])
    def home(self) -> None:
        self.client.get(PATHS.home)

    @task(WEIGHTS["categories"])
    def categories(self) -> None:
        self.client.get(PATHS.categories)

    @task(WEIGHTS["browse_category"])
    def browse_category(self) -> None:
        params = {"category": random.choice(self.category_ids), "page": random.randint(1, 3)}
        self.client.get(PATHS.products, params=params, name=PATHS.products)

    @task(WEIGHTS["search"])
    def search(self) -> None:
        self.client.get(PATHS.search, params={"q": random.choice(SEARCH_TERMS)}, name=PATHS.search)

    @task(WEIGHTS["product_detail"])
    def product_detail(self) -> None:
        self._get_product()

    @task(WEIGHTS["ai_recommendations"])
    def ai_recommendations(self) -> None:
        pid = random.choice(self.product_ids)
        self.client.get(
            PATHS.recommendations, params={"product_id": pid}, name=PATHS.recommendations
        )

    # --- buying ---------------------------------------------------------------------------------
    @task(WEIGHTS["add_to_cart"])
    def add_to_cart(self) -> None:
        pid = self._get_product()
        self._add_item(pid)

    @task(WEIGHTS["manage_cart"])
    def manage_cart(self) -> None:
        # the cart as the server has it: adding a product twice merges into one line, so
        # client-side bookkeeping of item ids would PATCH/DELETE lines that are gone
        cart = _json(self.client.get(PATHS.cart, headers=self.auth))
        items = [i.get("id") for i in cart.get("items") or [] if isinstance(i, dict)]
        if not items:
            self._add_item(random.choice(self.product_ids))
            self._add_item(random.choice(self.product_ids))
            return
        item = items[0]
        self.client.patch(
            PATHS.cart_item.format(id=item),
            json={"quantity": random.randint(1, 3)},
            headers=self.auth,
            name=PATHS.group_name("cart_item"),
        )
        self.client.delete(
            PATHS.cart_item.format(id=item), headers=self.auth, name=PATHS.group_name("cart_item")
        )

    @task(WEIGHTS["checkout"])
    def checkout(self) -> None:
        self._add_item(random.choice(self.product_ids))
        cart = _json(self.client.get(PATHS.cart, headers=self.auth))
        body: dict[str, Any] = {"cart_id": cart.get("id"), "total": cart.get("total")}
        self.client.post(PATHS.fraud_check, json=body, headers=self.auth)
        self.client.post(PATHS.checkout, json={}, headers=self.auth)

    # --- helpers --------------------------------------------------------------------------------
    def _get_product(self) -> Any:
        pid = random.choice(self.product_ids)
        self.client.get(PATHS.product.format(id=pid), name=PATHS.group_name("product"))
        return pid

    def _add_item(self, pid: Any) -> None:
        body = {"product_id": pid, "quantity": random.randint(1, 2)}
        self.client.post(PATHS.cart_items, json=body, headers=self.auth)


def _json(resp: Any) -> dict[str, Any]:
    try:
        data = resp.json()
    except Exception:
        return {}
    return data if isinstance(data, dict) else {"items": data}
