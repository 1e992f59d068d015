-- retail: a brick-and-mortar + online retailer (PostgreSQL dialect).
-- 12 tables in schema "retail": reference tables (categories, suppliers, products, stores,
-- employees, customers, promotions) and fact tables (orders, order_items, payments, returns,
-- inventory_snapshots). Keys are declared both inline (REFERENCES) and at table level
-- (FOREIGN KEY ...), including a composite primary key and a composite foreign key.
-- Descriptions come from COMMENT ON statements, trailing -- comments and schema.yaml.
--
--   make distill SCHEMA=examples/retail/schema.sql
--   .venv/bin/schemadistill schema examples/retail/schema.sql

CREATE SCHEMA IF NOT EXISTS retail;

-- ---------------------------------------------------------------- reference data

CREATE TABLE retail.categories (
    category_id        SERIAL PRIMARY KEY,
    parent_category_id INTEGER REFERENCES retail.categories (category_id), -- NULL for top-level categories
    name               VARCHAR(100) NOT NULL,                             -- e.g. Footwear, Outerwear, Kitchen
    description        TEXT
);

CREATE TABLE retail.suppliers (
    supplier_id   SERIAL PRIMARY KEY,
    name          VARCHAR(200) NOT NULL,
    contact_email VARCHAR(255),
    phone         VARCHAR(40),
    country       VARCHAR(80) NOT NULL,            -- country the supplier ships from
    lead_time_days INTEGER,                        -- typical days from purchase order to delivery
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE retail.products (
    product_id      SERIAL PRIMARY KEY,
    sku             VARCHAR(32) NOT NULL UNIQUE,                               -- stock keeping unit
    name            VARCHAR(200) NOT NULL,
    category_id     INTEGER NOT NULL REFERENCES retail.categories (category_id),
    supplier_id     INTEGER REFERENCES retail.suppliers (supplier_id),        -- NULL for private-label goods
    brand           VARCHAR(100),
    unit_cost       NUMERIC(10,2) NOT NULL,                                    -- current purchase cost per unit
    list_price      NUMERIC(10,2) NOT NULL,                                    -- current shelf price per unit
    weight_kg       NUMERIC(8,3),
    is_discontinued BOOLEAN NOT NULL DEFAULT FALSE,
    launched_on     DATE,
    CHECK (list_price >= 0)
);

CREATE TABLE retail.stores (
    store_id       SERIAL PRIMARY KEY,
    store_code     VARCHAR(10) NOT NULL UNIQUE,    -- short code printed on receipts, e.g. LDN01
    name           VARCHAR(120) NOT NULL,
    store_type     VARCHAR(20) NOT NULL,           -- flagship, mall, outlet, online
    city           VARCHAR(100) NOT NULL,
    region         VARCHAR(50) NOT NULL,           -- sales region: North, South, East, West, Online
    country        VARCHAR(80) NOT NULL,
    opened_on      DATE NOT NULL,
    closed_on      DATE,                           -- NULL while the store is open
    floor_area_sqm INTEGER                         -- NULL for the online store
);

CREATE TABLE retail.employees (
    employee_id      SERIAL PRIMARY KEY,
    store_id         INTEGER NOT NULL REFERENCES retail.stores (store_id),
    manager_id       INTEGER REFERENCES retail.employees (employee_id),  -- NULL for store managers
    first_name       VARCHAR(100) NOT NULL,
    last_name        VARCHAR(100) NOT NULL,
    email            VARCHAR(255) NOT NULL UNIQUE,
    "position"       VARCHAR(50) NOT NULL,          -- job title: cashier, sales associate, store manager
    hire_date        DATE NOT NULL,
    termination_date DATE,                          -- NULL while employed
    hourly_rate      NUMERIC(8,2),
    is_full_time     BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE retail.customers (
    customer_id      SERIAL PRIMARY KEY,
    first_name       VARCHAR(100) NOT NULL,
    last_name        VARCHAR(100) NOT NULL,
    email            VARCHAR(255),                  -- optional: many in-store customers give none
    phone            VARCHAR(40),
    birth_date       DATE,
    city             VARCHAR(100),
    country          VARCHAR(80) NOT NULL,
    loyalty_tier     VARCHAR(20) NOT NULL DEFAULT 'bronze',  -- bronze, silver, gold, platinum
    signup_date      DATE NOT NULL,
    home_store_id    INTEGER REFERENCES retail.stores (store_id),
    marketing_opt_in BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE retail.promotions (
    promotion_id     SERIAL PRIMARY KEY,
    code             VARCHAR(30) NOT NULL UNIQUE,   -- code entered at checkout, e.g. SPRING10
    name             VARCHAR(120) NOT NULL,
    promo_type       VARCHAR(20) NOT NULL,          -- percent_off, amount_off, free_shipping
    discount_percent NUMERIC(5,2),                  -- set for percent_off promotions
    discount_amount  NUMERIC(10,2),                 -- set for amount_off promotions
    starts_on        DATE NOT NULL,
    ends_on          DATE NOT NULL,
    channel          VARCHAR(20)                    -- in_store, online or NULL for both
);

-- ---------------------------------------------------------------- facts

CREATE TABLE retail.orders (
    order_id        BIGSERIAL PRIMARY KEY,
    customer_id     INTEGER REFERENCES retail.customers (customer_id),  -- NULL for guest checkouts
    store_id        INTEGER NOT NULL,
    employee_id     INTEGER,                        -- cashier; NULL for online orders
    promotion_id    INTEGER,                        -- NULL when no promotion was applied
    channel         VARCHAR(20) NOT NULL,           -- in_store, online, mobile_app
    status          VARCHAR(20) NOT NULL,           -- completed, cancelled, pending
    ordered_at      TIMESTAMP NOT NULL,
    shipped_at      TIMESTAMP,                      -- NULL for in-store and unshipped orders
    subtotal_amount NUMERIC(12,2) NOT NULL,         -- sum of the order lines
    discount_amount NUMERIC(10,2) NOT NULL DEFAULT 0,
    tax_amount      NUMERIC(10,2) NOT NULL DEFAULT 0,
    shipping_amount NUMERIC(10,2) NOT NULL DEFAULT 0,
    total_amount    NUMERIC(12,2) NOT NULL,
    FOREIGN KEY (store_id) REFERENCES retail.stores (store_id),
    CONSTRAINT orders_employee_fk FOREIGN KEY (employee_id) REFERENCES retail.employees (employee_id),
    CONSTRAINT orders_promotion_fk FOREIGN KEY (promotion_id) REFERENCES retail.promotions (promotion_id)
);

CREATE TABLE retail.order_items (
    order_id          BIGINT NOT NULL,
    line_number       SMALLINT NOT NULL,
    product_id        INTEGER NOT NULL REFERENCES retail.products (product_id),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price        NUMERIC(10,2) NOT NULL,        -- price charged per unit, after line discounts
    unit_cost         NUMERIC(10,2) NOT NULL,        -- cost per unit at the time of sale
    quantity_returned INTEGER NOT NULL DEFAULT 0,    -- units of this line returned so far
    PRIMARY KEY (order_id, line_number),
    FOREIGN KEY (order_id) REFERENCES retail.orders (order_id)
);

CREATE TABLE retail.payments (
    payment_id     BIGSERIAL PRIMARY KEY,
    order_id       BIGINT NOT NULL REFERENCES retail.orders (order_id),
    payment_method VARCHAR(20) NOT NULL,             -- card, cash, gift_card, paypal
    card_brand     VARCHAR(20),                      -- Visa, Mastercard, Amex; NULL unless paid by card
    amount         NUMERIC(12,2) NOT NULL,
    currency       CHAR(3) NOT NULL DEFAULT 'EUR',
    status         VARCHAR(20) NOT NULL,             -- captured, failed, refunded
    paid_at        TIMESTAMP NOT NULL
);

CREATE TABLE retail.returns (
    return_id     SERIAL PRIMARY KEY,
    order_id      BIGINT NOT NULL,
    line_number   SMALLINT NOT NULL,
    store_id      INTEGER REFERENCES retail.stores (store_id),  -- NULL when returned by mail
    quantity      INTEGER NOT NULL,
    refund_amount NUMERIC(10,2) NOT NULL,
    reason        VARCHAR(50),                      -- damaged, wrong_size, not_as_described, changed_mind
    restocked     BOOLEAN NOT NULL DEFAULT FALSE,
    returned_at   TIMESTAMP NOT NULL,
    notes         TEXT,
    FOREIGN KEY (order_id, line_number) REFERENCES retail.order_items (order_id, line_number)
);

CREATE TABLE retail.inventory_snapshots (
    snapshot_date     DATE NOT NULL,
    store_id          INTEGER NOT NULL,
    product_id        INTEGER NOT NULL,
    quantity_on_hand  INTEGER NOT NULL,             -- units in the store at close of business
    quantity_on_order INTEGER NOT NULL DEFAULT 0,   -- units ordered from the supplier, not yet received
    reorder_point     INTEGER,
    PRIMARY KEY (snapshot_date, store_id, product_id),
    FOREIGN KEY (store_id) REFERENCES retail.stores (store_id),
    FOREIGN KEY (product_id) REFERENCES retail.products (product_id)
);

-- ---------------------------------------------------------------- comments

COMMENT ON TABLE retail.orders IS 'One row per customer order (till receipt or web order). Amounts are in the payment currency.';
COMMENT ON TABLE retail.order_items IS 'One row per line of an order: a product, its quantity and the price charged.';
COMMENT ON TABLE retail.returns IS 'One row per returned order line (possibly a partial quantity).';
COMMENT ON TABLE retail.inventory_snapshots IS 'Daily stock level of each product in each store, taken at close of business.';
COMMENT ON COLUMN retail.orders.total_amount IS 'Amount charged: subtotal - discount + tax + shipping.';
COMMENT ON COLUMN retail.orders.discount_amount IS 'Order-level discount from the promotion, 0 when none.';
COMMENT ON COLUMN retail.customers.loyalty_tier IS 'Loyalty programme tier: bronze, silver, gold or platinum.';
COMMENT ON COLUMN retail.employees."position" IS 'Job title of the employee.';
