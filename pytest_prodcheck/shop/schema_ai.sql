-- AI database ("ai") of the reference shop: recommendation features and fraud-check log.
-- Idempotent: safe to run again.
--   recommendations  co_purchases_pkey (product_id, other_id) + co_purchases_rank_idx,
--                    product_features_category_idx (category_id, popularity DESC)
--   fraud check      fraud_checks_user_idx (user_id, created_at)

CREATE TABLE IF NOT EXISTS ai_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS product_features (
    product_id   integer PRIMARY KEY,
    category_id  integer NOT NULL,
    price_cents  integer NOT NULL,
    popularity   integer NOT NULL
);
CREATE INDEX IF NOT EXISTS product_features_category_idx
    ON product_features (category_id, popularity DESC);

CREATE TABLE IF NOT EXISTS co_purchases (
    product_id  integer NOT NULL,
    other_id    integer NOT NULL,
    weight      integer NOT NULL CHECK (weight > 0),
    PRIMARY KEY (product_id, other_id)
);
CREATE INDEX IF NOT EXISTS co_purchases_rank_idx ON co_purchases (product_id, weight DESC);

CREATE TABLE IF NOT EXISTS fraud_checks (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL,
    cart_id      bigint,
    total_cents  bigint NOT NULL,
    score        real NOT NULL,
    decision     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fraud_checks_user_idx ON fraud_checks (user_id, created_at);
