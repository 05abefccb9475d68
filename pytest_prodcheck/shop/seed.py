"""The deterministic seed catalogue: same rows on every machine, generated inside PostgreSQL.

    >>> SEED_VERSION, PRODUCTS, len(CATEGORIES), USERS
    (1, 5000, 50, 1000)
    >>> seed_user_email(7), SEED_PASSWORD
    ('user7@shop.test', 'shopper-password')

Rows come from ``generate_series`` with fixed formulas, so seeding 5 000 products, 50 categories,
1 000 users and 30 000 co-purchase pairs takes a few hundred milliseconds. Every seeded user has
the password :data:`SEED_PASSWORD` (one hash, computed once with a fixed salt: it is seed data).
Bump :data:`SEED_VERSION` whenever the data below changes: the stack's cached template data dir is
keyed by it (see :func:`pytest_prodcheck.shop.migrate.fingerprint`).
"""

from __future__ import annotations

from typing import Any, LiteralString

SEED_VERSION = 1
PRODUCTS = 5000
USERS = 1000
SEED_PASSWORD = "shopper-password"
SEED_SALT = b"prodcheck-seed01"  # fixed on purpose: deterministic seed data only
INITIAL_STOCK = 1_000_000  # long load runs never empty the shelves
CO_PURCHASE_OFFSETS = (1, 50, 173, 911, 2203, 3301)  # distinct, non-zero mod PRODUCTS

CATEGORIES: tuple[str, ...] = (
    "Electronics", "Computers", "Phones", "Cameras", "Audio", "Televisions", "Gaming",
    "Smart Home", "Kitchen", "Appliances", "Furniture", "Bedding", "Bath", "Lighting",
    "Garden", "Tools", "Automotive", "Sports", "Outdoors", "Camping", "Fitness", "Cycling",
    "Books", "Music", "Movies", "Toys", "Baby", "Pets", "Health", "Beauty", "Grocery",
    "Coffee", "Tea", "Wine", "Office", "Stationery", "Art Supplies", "Crafts", "Jewelry",
    "Watches", "Shoes", "Bags", "Men", "Women", "Kids", "Luggage", "Party", "Seasonal",
    "Software", "Gift Cards",
)  # fmt: skip

ADJECTIVES: tuple[str, ...] = (
    "Classic", "Compact", "Deluxe", "Eco", "Ergonomic", "Essential", "Foldable", "Heavy-duty",
    "Lightweight", "Modern", "Portable", "Premium", "Rugged", "Sleek", "Smart", "Vintage",
    "Wireless", "Ultra", "Pro", "Mini",
)  # fmt: skip

NOUNS: tuple[str, ...] = (
    "Lamp", "Speaker", "Backpack", "Kettle", "Chair", "Headphones", "Blender", "Jacket",
    "Charger", "Notebook", "Mug", "Drone", "Tent", "Watch", "Keyboard", "Bottle", "Camera",
    "Pillow", "Scooter", "Monitor", "Router", "Drill", "Sneaker", "Puzzle", "Grinder",
)  # fmt: skip

# -- SQL fragments (for parameterised queries, hence %%): per-row formulas, i = product id --
CATEGORY_OF: LiteralString = "(1 + (i - 1) %% 50)"
PRICE_OF: LiteralString = "(499 + (i * 7919) %% 49500)"
POPULARITY_OF: LiteralString = "((i::bigint * 2654435761) %% 1000)::int"


SEED_EMAIL = "user{n}@shop.test"  # the pattern the load journey's returning customers log in with


def seed_user_email(n: int) -> str:
    """E-mail address of seeded user ``n`` (1..USERS)."""
    return SEED_EMAIL.replace("{n}", str(n))


MAIN_SEED: tuple[tuple[LiteralString, dict[str, Any]], ...] = (
    (
        "INSERT INTO categories (id, slug, name)"
        " SELECT n, lower(replace(name, ' ', '-')), name"
        " FROM unnest(%(names)s::text[]) WITH ORDINALITY AS c(name, n)"
        " ON CONFLICT DO NOTHING",
        {"names": list(CATEGORIES)},
    ),
    (
        "INSERT INTO products (id, category_id, sku, name, description, price_cents, stock)"
        f" SELECT i, {CATEGORY_OF}, 'SKU-' || lpad(i::text, 6, '0'),"
        "  (%(adj)s::text[])[1 + i %% 20] || ' ' || (%(nouns)s::text[])[1 + (i / 20) %% 25]"
        "   || ' ' || i,"
        "  'A ' || lower((%(adj)s::text[])[1 + (i * 7) %% 20]) || ' '"
        "   || lower((%(nouns)s::text[])[1 + (i / 20) %% 25]) || ' for everyday use, model '"
        "   || i || ', from the ' || (%(cats)s::text[])[" + CATEGORY_OF + "] || ' range.',"
        f"  {PRICE_OF}, %(stock)s"
        " FROM generate_series(1, %(count)s) AS i"
        " ON CONFLICT DO NOTHING",
        {
            "adj": list(ADJECTIVES),
            "nouns": list(NOUNS),
            "cats": list(CATEGORIES),
            "stock": INITIAL_STOCK,
            "count": PRODUCTS,
        },
    ),
    (
        "INSERT INTO users (email, name, password_hash)"
        " SELECT 'user' || n || '@shop.test', 'Shopper ' || n, %(hash)s"
        " FROM generate_series(1, %(count)s) AS n"
        " ON CONFLICT DO NOTHING",
        {"count": USERS},  # "hash" is added by migrate (computed once)
    ),
)

AI_SEED: tuple[tuple[LiteralString, dict[str, Any]], ...] = (
    (
        "INSERT INTO product_features (product_id, category_id, price_cents, popularity)"
        f" SELECT i, {CATEGORY_OF}, {PRICE_OF}, {POPULARITY_OF}"
        " FROM generate_series(1, %(count)s) AS i"
        " ON CONFLICT DO NOTHING",
        {"count": PRODUCTS},
    ),
    (
        "INSERT INTO co_purchases (product_id, other_id, weight)"
        " SELECT i, 1 + (i - 1 + o) %% %(count)s, 1 + (i * 31 + o * 17) %% 97"
        " FROM generate_series(1, %(count)s) AS i, unnest(%(offsets)s::int[]) AS o"
        " ON CONFLICT DO NOTHING",
        {"count": PRODUCTS, "offsets": list(CO_PURCHASE_OFFSETS)},
    ),
)
