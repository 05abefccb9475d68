-- Main database ("ecommerce") of the reference shop. Idempotent: safe to run again.
-- Hot paths and the index that serves each (tests/test_shop.py checks them with EXPLAIN):
--   category listing   products_category_id_idx (category_id, id)
--   search             products_search_idx      GIN (search)
--   product detail     products_pkey
--   login              users_email_key          (lower(email))
--   auth               sessions_pkey            (token_hash)
--   cart               carts_open_user_idx      (user_id) WHERE status = 'open'
--                      cart_items_cart_id_idx (cart_id, id), and for upserts
--                      cart_items_cart_product_key (cart_id, product_id)

CREATE TABLE IF NOT EXISTS shop_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS categories (
    id    integer PRIMARY KEY,
    slug  text NOT NULL UNIQUE,
    name  text NOT NULL
);

CREATE TABLE IF NOT EXISTS products (
    id           integer PRIMARY KEY,
    category_id  integer NOT NULL REFERENCES categories (id),
    sku          text NOT NULL UNIQUE,
    name         text NOT NULL,
    description  text NOT NULL,
    price_cents  integer NOT NULL CHECK (price_cents >= 0),
    stock        integer NOT NULL CHECK (stock >= 0),
    search       tsvector GENERATED ALWAYS AS
                 (to_tsvector('simple', name || ' ' || description)) STORED
);
CREATE INDEX IF NOT EXISTS products_category_id_idx ON products (category_id, id);
CREATE INDEX IF NOT EXISTS products_search_idx ON products USING gin (search)
    WITH (fastupdate = off);  -- no pending list: the planner costs the index as it is

CREATE TABLE IF NOT EXISTS users (
    id             bigserial PRIMARY KEY,
    email          text NOT NULL,
    name           text NOT NULL,
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (lower(email));

CREATE TABLE IF NOT EXISTS sessions (
    token_hash  bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON sessions (user_id);

CREATE TABLE IF NOT EXISTS carts (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ordered')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS carts_open_user_idx ON carts (user_id) WHERE status = 'open';

CREATE TABLE IF NOT EXISTS cart_items (
    id          bigserial PRIMARY KEY,
    cart_id     bigint NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id  integer NOT NULL REFERENCES products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    CONSTRAINT cart_items_cart_product_key UNIQUE (cart_id, product_id)
);
CREATE INDEX IF NOT EXISTS cart_items_cart_id_idx ON cart_items (cart_id, id);

CREATE TABLE IF NOT EXISTS orders (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cart_id      bigint NOT NULL UNIQUE REFERENCES carts (id),
    total_cents  bigint NOT NULL,
    status       text NOT NULL DEFAULT 'placed',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_user_id_idx ON orders (user_id);

CREATE TABLE IF NOT EXISTS order_items (
    order_id     bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id   integer NOT NULL REFERENCES products (id),
    quantity     integer NOT NULL CHECK (quantity > 0),
    price_cents  integer NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
