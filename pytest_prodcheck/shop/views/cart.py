"""Cart and checkout views (authenticated: bearer token or session cookie).

    GET    /api/cart                   -> {"id", "items": [{id, product_id, quantity, …}], "total"}
    POST   /api/cart/items             {"product_id": 42, "quantity": 2} -> 201 item
    PATCH  /api/cart/items/{item_id}   {"quantity": 3}                   -> 200 item
    DELETE /api/cart/items/{item_id}                                     -> 204
    POST   /api/checkout                                                 -> 201 order

Each write is one explicit transaction. Checkout locks the cart and its products in id order
(no deadlocks between concurrent checkouts), takes the stock, writes the order and closes the cart.
"""

from __future__ import annotations

from typing import Any, LiteralString

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pytest_prodcheck.shop.auth import current_user
from pytest_prodcheck.shop.db import ShopConn
from pytest_prodcheck.shop.validate import ApiError, json_object, path_id, require_int
from pytest_prodcheck.shop.views._common import money, pools

MAX_QUANTITY = 1000
SQL_OPEN_CART: LiteralString = "SELECT id FROM carts WHERE user_id = %s AND status = 'open'"
SQL_CART_ITEMS: LiteralString = (
    "SELECT ci.id, ci.product_id, p.name, ci.quantity, p.price_cents"
    " FROM cart_items ci JOIN products p ON p.id = ci.product_id"
    " WHERE ci.cart_id = %s ORDER BY ci.id"
)
SQL_UPDATE_ITEM: LiteralString = (
    "UPDATE cart_items ci SET quantity = %s FROM carts c, products p"
    " WHERE ci.id = %s AND c.id = ci.cart_id AND c.user_id = %s AND c.status = 'open'"
    " AND p.id = ci.product_id"
    " RETURNING ci.id, ci.product_id, ci.quantity, p.name, p.price_cents"
)
SQL_DELETE_ITEM: LiteralString = (
    "DELETE FROM cart_items ci USING carts c"
    " WHERE ci.id = %s AND c.id = ci.cart_id AND c.user_id = %s AND c.status = 'open'"
    " RETURNING ci.id"
)


async def open_cart_id(conn: ShopConn, user_id: int, *, create: bool) -> int | None:
    """The id of the user's open cart (created on demand when ``create``)."""
    cur = await conn.execute(SQL_OPEN_CART, [user_id])
    row = await cur.fetchone()
    if row is None and create:
        cur = await conn.execute(
            "INSERT INTO carts (user_id) VALUES (%s)"
            " ON CONFLICT (user_id) WHERE status = 'open' DO NOTHING RETURNING id",
            [user_id],
        )
        row = await cur.fetchone()
        if row is None:  # created concurrently by another request of the same user
            return await open_cart_id(conn, user_id, create=False)
    return None if row is None else int(row["id"])


def _item_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "product_id": row["product_id"],
        "name": row["name"],
        "quantity": row["quantity"],
        "price_cents": row["price_cents"],
        "line_total_cents": row["quantity"] * row["price_cents"],
        "price": money(row["price_cents"]),
    }


async def cart_items(conn: ShopConn, cart_id: int) -> list[dict[str, Any]]:
    cur = await conn.execute(SQL_CART_ITEMS, [cart_id])
    return [_item_json(r) for r in await cur.fetchall()]


async def get_cart(request: Request) -> JSONResponse:
    main = pools(request).main
    user_id = await current_user(request, main)
    async with main.connection() as conn:
        cart_id = await open_cart_id(conn, user_id, create=False)
        items = [] if cart_id is None else await cart_items(conn, cart_id)
    total = sum(i["line_total_cents"] for i in items)
    return JSONResponse(
        {"id": cart_id, "items": items, "total_cents": total, "total": money(total)}
    )


async def add_item(request: Request) -> JSONResponse:
    main = pools(request).main
    user_id = await current_user(request, main)
    data = await json_object(request)
    product_id = require_int(data, "product_id")
    quantity = require_int(data, "quantity", low=1, high=MAX_QUANTITY)
    async with main.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT name, price_cents FROM products WHERE id = %s", [product_id]
        )
        product = await cur.fetchone()
        if product is None:
            raise ApiError(404, f"product {product_id} not found")
        cart_id = await open_cart_id(conn, user_id, create=True)
        cur = await conn.execute(
            "INSERT INTO cart_items AS ci (cart_id, product_id, quantity) VALUES (%s, %s, %s)"
            " ON CONFLICT (cart_id, product_id) DO UPDATE"
            " SET quantity = ci.quantity + excluded.quantity"
            " WHERE ci.quantity + excluded.quantity <= %s"
            " RETURNING id, product_id, quantity",
            [cart_id, product_id, quantity, MAX_QUANTITY],
        )
        row = await cur.fetchone()
        if row is None:
            raise ApiError(400, f"quantity of product {product_id} would exceed {MAX_QUANTITY}")
    return JSONResponse(_item_json({**row, **product}) | {"cart_id": cart_id}, status_code=201)


async def update_item(request: Request) -> JSONResponse:
    main = pools(request).main
    user_id = await current_user(request, main)
    item_id = path_id(request, "item_id")
    data = await json_object(request)
    quantity = require_int(data, "quantity", low=1, high=MAX_QUANTITY)
    async with main.connection() as conn, conn.transaction():
        cur = await conn.execute(SQL_UPDATE_ITEM, [quantity, item_id, user_id])
        row = await cur.fetchone()
    if row is None:
        raise ApiError(404, f"cart item {item_id} not found in your cart")
    return JSONResponse(_item_json(row))


async def delete_item(request: Request) -> Response:
    main = pools(request).main
    user_id = await current_user(request, main)
    item_id = path_id(request, "item_id")
    async with main.connection() as conn, conn.transaction():
        cur = await conn.execute(SQL_DELETE_ITEM, [item_id, user_id])
        row = await cur.fetchone()
    if row is None:
        raise ApiError(404, f"cart item {item_id} not found in your cart")
    return Response(status_code=204)


async def checkout(request: Request) -> JSONResponse:
    main = pools(request).main
    user_id = await current_user(request, main)
    await json_object(request, allow_empty=True)  # body optional; if sent it must be JSON
    async with main.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT id FROM carts WHERE user_id = %s AND status = 'open' FOR UPDATE", [user_id]
        )
        cart = await cur.fetchone()
        if cart is None:
            raise ApiError(409, "your cart is empty: add items before checkout")
        cur = await conn.execute(
            "SELECT ci.product_id, ci.quantity, p.price_cents, p.name"
            " FROM cart_items ci JOIN products p ON p.id = ci.product_id"
            " WHERE ci.cart_id = %s ORDER BY ci.product_id FOR UPDATE OF p",
            [cart["id"]],
        )
        items = await cur.fetchall()
        if not items:
            raise ApiError(409, "your cart is empty: add items before checkout")
        ids = [i["product_id"] for i in items]
        quantities = [i["quantity"] for i in items]
        cur = await conn.execute(
            "UPDATE products p SET stock = p.stock - v.q"
            " FROM unnest(%s::int[], %s::int[]) AS v(id, q)"
            " WHERE p.id = v.id AND p.stock >= v.q",
            [ids, quantities],
        )
        if cur.rowcount != len(items):
            raise ApiError(409, "not enough stock for some items in your cart")
        total = sum(i["quantity"] * i["price_cents"] for i in items)
        cur = await conn.execute(
            "INSERT INTO orders (user_id, cart_id, total_cents) VALUES (%s, %s, %s)"
            " RETURNING id, status, created_at",
            [user_id, cart["id"], total],
        )
        order = await cur.fetchone()
        assert order is not None
        await conn.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)"
            " SELECT %s, * FROM unnest(%s::int[], %s::int[], %s::int[])",
            [order["id"], ids, quantities, [i["price_cents"] for i in items]],
        )
        await conn.execute("UPDATE carts SET status = 'ordered' WHERE id = %s", [cart["id"]])
    return JSONResponse(
        {
            "id": order["id"],
            "status": order["status"],
            "cart_id": cart["id"],
            "created_at": order["created_at"].isoformat(),
            "total_cents": total,
            "total": money(total),
            "items": [
                {k: i[k] for k in ("product_id", "name", "quantity", "price_cents")} for i in items
            ],
        },
        status_code=201,
    )


ROUTES = [
    Route("/api/cart", get_cart, methods=["GET"]),
    Route("/api/cart/items", add_item, methods=["POST"]),
    Route("/api/cart/items/{item_id:int}", update_item, methods=["PATCH"]),
    Route("/api/cart/items/{item_id:int}", delete_item, methods=["DELETE"]),
    Route("/api/checkout", checkout, methods=["POST"]),
]
