-- large: a SaaS + marketplace + logistics company in one warehouse (DuckDB dialect), 59 tables.
-- Exists to exercise scale: many tables, composite keys, self references, every type family
-- (integers, floats, decimals, text, boolean, date, timestamp, timestamptz, time, interval,
-- json, blob, uuid, lists) and a deliberate mix of declared foreign keys (REFERENCES /
-- FOREIGN KEY) and foreign keys by name only (e.g. teams.account_id, orders.coupon_id have no
-- REFERENCES clause, so the loader has to infer them). Tables live in the default schema.
-- No sidecar: descriptions come from the trailing comments only.
--
--   make distill SCHEMA=examples/large/schema.sql
--   .venv/bin/schemadistill schema examples/large/schema.sql

-- ================================================================ geography

CREATE TABLE countries (
    country_code CHAR(2) PRIMARY KEY,          -- ISO 3166-1 alpha-2, e.g. GB, DE, US
    name         VARCHAR NOT NULL,
    continent    VARCHAR NOT NULL,             -- Europe, North America, Asia, ...
    currency     CHAR(3) NOT NULL,             -- ISO 4217 currency code
    is_eu_member BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE regions (
    region_id    INTEGER PRIMARY KEY,
    country_code CHAR(2) NOT NULL REFERENCES countries (country_code),
    name         VARCHAR NOT NULL              -- state, province or county
);

CREATE TABLE cities (
    city_id    INTEGER PRIMARY KEY,
    region_id  INTEGER NOT NULL REFERENCES regions (region_id),
    name       VARCHAR NOT NULL,
    population INTEGER,
    latitude   DOUBLE,
    longitude  DOUBLE,
    timezone   VARCHAR                         -- IANA name, e.g. Europe/London
);

CREATE TABLE addresses (
    address_id  BIGINT PRIMARY KEY,
    city_id     INTEGER NOT NULL,              -- city of the address (no declared key)
    line1       VARCHAR NOT NULL,
    line2       VARCHAR,
    postal_code VARCHAR(16),
    is_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL
);

-- ================================================================ people and organisation (HR)

CREATE TABLE departments (
    department_id        INTEGER PRIMARY KEY,
    parent_department_id INTEGER,              -- NULL for top-level departments
    name                 VARCHAR NOT NULL,     -- Engineering, Sales, Support, Finance, ...
    cost_center          VARCHAR(12) NOT NULL,
    annual_budget        DECIMAL(14,2)
);

CREATE TABLE employees (
    employee_id    INTEGER PRIMARY KEY,
    department_id  INTEGER NOT NULL REFERENCES departments (department_id),
    manager_id     INTEGER,                    -- another employee; NULL for the CEO
    first_name     VARCHAR NOT NULL,
    last_name      VARCHAR NOT NULL,
    work_email     VARCHAR NOT NULL UNIQUE,
    job_title      VARCHAR NOT NULL,
    hired_on       DATE NOT NULL,
    terminated_on  DATE,                       -- NULL while employed
    annual_salary  DECIMAL(12,2) NOT NULL,
    is_remote      BOOLEAN NOT NULL DEFAULT FALSE,
    shift_start    TIME,                       -- for support and warehouse staff
    city_id        INTEGER REFERENCES cities (city_id)
);

CREATE TABLE payroll (
    payroll_id    BIGINT PRIMARY KEY,
    employee_id   INTEGER NOT NULL REFERENCES employees (employee_id),
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    gross_pay     DECIMAL(12,2) NOT NULL,
    tax_withheld  DECIMAL(12,2) NOT NULL,
    net_pay       DECIMAL(12,2) NOT NULL,
    bonus         DECIMAL(12,2) DEFAULT 0,
    paid_on       DATE NOT NULL
);

-- ================================================================ SaaS customers

CREATE TABLE plans (
    plan_id       SMALLINT PRIMARY KEY,
    name          VARCHAR NOT NULL UNIQUE,     -- Free, Starter, Growth, Enterprise
    monthly_price DECIMAL(10,2) NOT NULL,
    annual_price  DECIMAL(10,2),
    max_seats     INTEGER,                     -- NULL = unlimited
    is_public     BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE organizations (
    organization_id    BIGINT PRIMARY KEY,
    name               VARCHAR NOT NULL,
    industry           VARCHAR,                -- Retail, Finance, Healthcare, Education, ...
    country_code       CHAR(2) REFERENCES countries (country_code),
    employee_count     INTEGER,
    billing_address_id BIGINT REFERENCES addresses (address_id),
    website            VARCHAR,
    created_at         TIMESTAMP NOT NULL
);

CREATE TABLE accounts (
    account_id         BIGINT PRIMARY KEY,
    organization_id    BIGINT NOT NULL REFERENCES organizations (organization_id),
    plan_id            SMALLINT NOT NULL,      -- current plan (no declared key)
    account_manager_id INTEGER REFERENCES employees (employee_id),
    status             VARCHAR NOT NULL,       -- trial, active, past_due, churned
    mrr                DECIMAL(12,2) NOT NULL DEFAULT 0, -- monthly recurring revenue
    created_at         TIMESTAMP NOT NULL,
    churned_at         TIMESTAMP
);

CREATE TABLE teams (
    team_id    BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL,                -- no declared key
    name       VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    user_id       BIGINT PRIMARY KEY,
    account_id    BIGINT REFERENCES accounts (account_id), -- NULL for marketplace shoppers
    team_id       BIGINT,                      -- no declared key
    email         VARCHAR NOT NULL UNIQUE,
    full_name     VARCHAR,
    role          VARCHAR NOT NULL,            -- owner, admin, member, viewer, shopper
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    locale        VARCHAR(10),                 -- en-GB, de-DE, ...
    signup_at     TIMESTAMP NOT NULL,
    last_login_at TIMESTAMPTZ,
    birth_year    SMALLINT
);

CREATE TABLE api_keys (
    api_key_id   UUID PRIMARY KEY,
    account_id   BIGINT NOT NULL,              -- no declared key
    created_by_user_id BIGINT REFERENCES users (user_id),
    key_hash     BLOB NOT NULL,                -- SHA-256 of the secret
    scopes       VARCHAR[],                    -- e.g. [read, write, admin]
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);

CREATE TABLE feature_flags (
    flag_key        VARCHAR PRIMARY KEY,       -- e.g. new_checkout, dark_mode
    description     TEXT,
    is_enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    rollout_percent REAL NOT NULL DEFAULT 0,   -- 0-100
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE feature_flag_overrides (
    account_id BIGINT NOT NULL,
    flag_key   VARCHAR NOT NULL REFERENCES feature_flags (flag_key),
    is_enabled BOOLEAN NOT NULL,
    set_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, flag_key)
);

CREATE TABLE usage_events (
    event_id    BIGINT PRIMARY KEY,
    account_id  BIGINT NOT NULL,
    user_id     BIGINT,
    feature     VARCHAR NOT NULL,              -- api_call, export, report_run, storage_gb
    quantity    DOUBLE NOT NULL DEFAULT 1,
    occurred_at TIMESTAMP NOT NULL
);

-- ================================================================ billing

CREATE TABLE subscriptions (
    subscription_id BIGINT PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts (account_id),
    plan_id         SMALLINT NOT NULL REFERENCES plans (plan_id),
    billing_period  VARCHAR NOT NULL,          -- monthly or annual
    seats           INTEGER NOT NULL,
    status          VARCHAR NOT NULL,          -- trialing, active, canceled, past_due
    started_on      DATE NOT NULL,
    trial_ends_on   DATE,
    canceled_on     DATE,
    auto_renew      BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE invoices (
    invoice_id      BIGINT PRIMARY KEY,
    account_id      BIGINT NOT NULL,           -- no declared key
    subscription_id BIGINT REFERENCES subscriptions (subscription_id),
    invoice_number  VARCHAR NOT NULL UNIQUE,
    currency        CHAR(3) NOT NULL,
    subtotal        DECIMAL(12,2) NOT NULL,
    tax             DECIMAL(12,2) NOT NULL,
    total           DECIMAL(12,2) NOT NULL,
    status          VARCHAR NOT NULL,          -- draft, open, paid, void, uncollectible
    issued_on       DATE NOT NULL,
    due_on          DATE NOT NULL,
    paid_on         DATE
);

CREATE TABLE invoice_lines (
    invoice_id  BIGINT NOT NULL REFERENCES invoices (invoice_id),
    line_no     SMALLINT NOT NULL,
    description VARCHAR NOT NULL,
    plan_id     SMALLINT,                      -- set for subscription lines
    quantity    INTEGER NOT NULL,
    unit_amount DECIMAL(12,2) NOT NULL,
    amount      DECIMAL(12,2) NOT NULL,
    period      INTERVAL,                      -- service period covered, e.g. 1 month
    PRIMARY KEY (invoice_id, line_no)
);

CREATE TABLE payment_methods (
    payment_method_id BIGINT PRIMARY KEY,
    account_id        BIGINT,                  -- SaaS payer; NULL for shoppers
    user_id           BIGINT,                  -- marketplace shopper; NULL for accounts
    method_type       VARCHAR NOT NULL,        -- card, sepa_debit, paypal, bank_transfer
    card_brand        VARCHAR,
    last4             CHAR(4),
    expires_on        DATE,
    is_default        BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE payments (
    payment_id          BIGINT PRIMARY KEY,
    invoice_id          BIGINT REFERENCES invoices (invoice_id), -- SaaS invoice paid, or NULL
    order_id            BIGINT,                -- marketplace order paid, or NULL (no declared key)
    payment_method_id   BIGINT REFERENCES payment_methods (payment_method_id),
    amount              DECIMAL(12,2) NOT NULL,
    currency            CHAR(3) NOT NULL,
    status              VARCHAR NOT NULL,      -- succeeded, failed, pending
    processor_reference VARCHAR,
    paid_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE refunds (
    refund_id   BIGINT PRIMARY KEY,
    payment_id  BIGINT NOT NULL REFERENCES payments (payment_id),
    amount      DECIMAL(12,2) NOT NULL,
    reason      VARCHAR,                       -- duplicate, fraudulent, requested_by_customer
    refunded_at TIMESTAMP NOT NULL
);

CREATE TABLE exchange_rates (
    currency    CHAR(3) NOT NULL,
    rate_date   DATE NOT NULL,
    rate_to_usd DOUBLE NOT NULL,               -- 1 unit of currency in USD
    PRIMARY KEY (currency, rate_date)
);

-- ================================================================ marketplace catalogue

CREATE TABLE brands (
    brand_id     INTEGER PRIMARY KEY,
    name         VARCHAR NOT NULL UNIQUE,
    country_code CHAR(2),                      -- no declared key
    founded_year SMALLINT
);

CREATE TABLE categories (
    category_id INTEGER PRIMARY KEY,
    parent_id   INTEGER,                       -- parent category, NULL at the top
    name        VARCHAR NOT NULL,
    slug        VARCHAR NOT NULL UNIQUE,
    depth       TINYINT NOT NULL DEFAULT 0
);

CREATE TABLE vendors (
    vendor_id     INTEGER PRIMARY KEY,
    name          VARCHAR NOT NULL,
    contact_email VARCHAR,
    country_code  CHAR(2) REFERENCES countries (country_code),
    rating        REAL,                        -- 1.0-5.0 average seller rating
    commission_pct DECIMAL(5,2) NOT NULL,      -- marketplace commission taken on each sale
    onboarded_on  DATE NOT NULL,
    is_verified   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE products (
    product_id  BIGINT PRIMARY KEY,
    vendor_id   INTEGER NOT NULL REFERENCES vendors (vendor_id),
    brand_id    INTEGER,                       -- no declared key
    category_id INTEGER NOT NULL REFERENCES categories (category_id),
    name        VARCHAR NOT NULL,
    description TEXT,
    tags        VARCHAR[],
    attributes  JSON,                          -- free-form specs: {"material": "cotton", ...}
    is_digital  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE product_variants (
    variant_id   BIGINT PRIMARY KEY,
    product_id   BIGINT NOT NULL REFERENCES products (product_id),
    sku          VARCHAR NOT NULL UNIQUE,
    color        VARCHAR,
    size         VARCHAR,
    price        DECIMAL(10,2) NOT NULL,
    cost         DECIMAL(10,2),
    weight_grams INTEGER,
    barcode      VARCHAR(14),
    is_active    BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE coupons (
    coupon_id       INTEGER PRIMARY KEY,
    code            VARCHAR NOT NULL UNIQUE,
    percent_off     DOUBLE,                    -- either percent_off or amount_off is set
    amount_off      DECIMAL(10,2),
    valid_from      DATE NOT NULL,
    valid_until     DATE,
    max_redemptions INTEGER
);

-- ================================================================ marketplace orders

CREATE TABLE carts (
    cart_id    BIGINT PRIMARY KEY,
    user_id    BIGINT NOT NULL,                -- no declared key
    status     VARCHAR NOT NULL,               -- open, converted, abandoned
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE cart_items (
    cart_id    BIGINT NOT NULL REFERENCES carts (cart_id),
    variant_id BIGINT NOT NULL,
    quantity   INTEGER NOT NULL,
    added_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, variant_id)
);

CREATE TABLE orders (
    order_id            BIGINT PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (user_id),
    cart_id             BIGINT,                -- cart the order was placed from
    shipping_address_id BIGINT REFERENCES addresses (address_id),
    coupon_id           INTEGER,               -- NULL when no coupon (no declared key)
    status              VARCHAR NOT NULL,      -- placed, paid, shipped, delivered, cancelled, returned
    currency            CHAR(3) NOT NULL,
    subtotal            DECIMAL(12,2) NOT NULL,
    shipping_fee        DECIMAL(10,2) NOT NULL DEFAULT 0,
    discount            DECIMAL(10,2) NOT NULL DEFAULT 0,
    tax                 DECIMAL(10,2) NOT NULL DEFAULT 0,
    total               DECIMAL(12,2) NOT NULL,
    ordered_at          TIMESTAMP NOT NULL
);

CREATE TABLE order_items (
    order_item_id BIGINT PRIMARY KEY,
    order_id      BIGINT NOT NULL REFERENCES orders (order_id),
    variant_id    BIGINT NOT NULL REFERENCES product_variants (variant_id),
    quantity      INTEGER NOT NULL,
    unit_price    DECIMAL(10,2) NOT NULL,
    discount      DECIMAL(10,2) NOT NULL DEFAULT 0
);

CREATE TABLE coupon_redemptions (
    redemption_id   BIGINT PRIMARY KEY,
    coupon_id       INTEGER NOT NULL REFERENCES coupons (coupon_id),
    order_id        BIGINT,                    -- no declared key
    account_id      BIGINT,                    -- for SaaS coupons
    discount_amount DECIMAL(10,2) NOT NULL,
    redeemed_at     TIMESTAMP NOT NULL
);

CREATE TABLE wishlists (
    wishlist_id BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    name        VARCHAR NOT NULL DEFAULT 'Wishlist',
    is_public   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE wishlist_items (
    wishlist_id BIGINT NOT NULL REFERENCES wishlists (wishlist_id),
    variant_id  BIGINT NOT NULL,
    added_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (wishlist_id, variant_id)
);

CREATE TABLE reviews (
    review_id            BIGINT PRIMARY KEY,
    product_id           BIGINT NOT NULL REFERENCES products (product_id),
    user_id              BIGINT NOT NULL,
    order_id             BIGINT,
    rating               TINYINT NOT NULL,     -- 1-5 stars
    title                VARCHAR,
    body                 TEXT,
    helpful_votes        INTEGER NOT NULL DEFAULT 0,
    is_verified_purchase BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMP NOT NULL
);

-- ================================================================ logistics

CREATE TABLE warehouses (
    warehouse_id   INTEGER PRIMARY KEY,
    code           VARCHAR(8) NOT NULL UNIQUE, -- e.g. LHR1, FRA2
    name           VARCHAR NOT NULL,
    address_id     BIGINT REFERENCES addresses (address_id),
    capacity_units INTEGER,
    opened_on      DATE,
    is_active      BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE inventory (
    warehouse_id      INTEGER NOT NULL REFERENCES warehouses (warehouse_id),
    variant_id        BIGINT NOT NULL REFERENCES product_variants (variant_id),
    quantity_on_hand  INTEGER NOT NULL,
    quantity_reserved INTEGER NOT NULL DEFAULT 0, -- allocated to unshipped orders
    reorder_level     INTEGER,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (warehouse_id, variant_id)
);

CREATE TABLE carriers (
    carrier_id            INTEGER PRIMARY KEY,
    name                  VARCHAR NOT NULL,    -- DHL, UPS, FedEx, Royal Mail, ...
    scac_code             VARCHAR(4),
    tracking_url_template VARCHAR
);

CREATE TABLE shipments (
    shipment_id           BIGINT PRIMARY KEY,
    order_id              BIGINT NOT NULL,     -- no declared key
    warehouse_id          INTEGER NOT NULL REFERENCES warehouses (warehouse_id),
    carrier_id            INTEGER REFERENCES carriers (carrier_id),
    tracking_number       VARCHAR,
    status                VARCHAR NOT NULL,    -- label_created, in_transit, delivered, lost, returned
    shipping_cost         DECIMAL(10,2),
    estimated_delivery_on DATE,
    shipped_at            TIMESTAMP,
    delivered_at          TIMESTAMP,
    transit_time          INTERVAL             -- delivered_at - shipped_at, when delivered
);

CREATE TABLE shipment_items (
    shipment_id   BIGINT NOT NULL REFERENCES shipments (shipment_id),
    order_item_id BIGINT NOT NULL,             -- no declared key
    quantity      INTEGER NOT NULL,
    PRIMARY KEY (shipment_id, order_item_id)
);

CREATE TABLE purchase_orders (
    purchase_order_id BIGINT PRIMARY KEY,
    vendor_id         INTEGER NOT NULL REFERENCES vendors (vendor_id),
    warehouse_id      INTEGER NOT NULL,        -- receiving warehouse (no declared key)
    status            VARCHAR NOT NULL,        -- draft, sent, partially_received, received, cancelled
    ordered_on        DATE NOT NULL,
    expected_on       DATE,
    received_on       DATE,
    total_cost        DECIMAL(14,2)
);

CREATE TABLE purchase_order_lines (
    purchase_order_id BIGINT NOT NULL,
    line_no           SMALLINT NOT NULL,
    variant_id        BIGINT NOT NULL,
    quantity_ordered  INTEGER NOT NULL,
    quantity_received INTEGER NOT NULL DEFAULT 0,
    unit_cost         DECIMAL(10,2) NOT NULL,
    PRIMARY KEY (purchase_order_id, line_no),
    FOREIGN KEY (purchase_order_id) REFERENCES purchase_orders (purchase_order_id),
    FOREIGN KEY (variant_id) REFERENCES product_variants (variant_id)
);

-- ================================================================ product analytics

CREATE TABLE devices (
    device_id     UUID PRIMARY KEY,
    user_id       BIGINT,                      -- NULL until the visitor logs in
    device_type   VARCHAR NOT NULL,            -- desktop, mobile, tablet
    os            VARCHAR,                     -- Windows, macOS, iOS, Android, Linux
    os_version    VARCHAR,
    browser       VARCHAR,
    app_version   VARCHAR,
    first_seen_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    session_id       UUID PRIMARY KEY,
    device_id        UUID NOT NULL REFERENCES devices (device_id),
    user_id          BIGINT,
    started_at       TIMESTAMP NOT NULL,
    ended_at         TIMESTAMP,
    duration_seconds INTEGER,
    utm_source       VARCHAR,                  -- google, newsletter, facebook, direct
    utm_medium       VARCHAR,
    landing_page     VARCHAR,
    is_bounce        BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE page_views (
    page_view_id    BIGINT PRIMARY KEY,
    session_id      UUID NOT NULL,             -- no declared key
    url             VARCHAR NOT NULL,
    page_type       VARCHAR,                   -- home, search, product, cart, checkout
    referrer        VARCHAR,
    time_on_page_ms INTEGER,
    viewed_at       TIMESTAMP NOT NULL
);

CREATE TABLE experiments (
    experiment_id INTEGER PRIMARY KEY,
    name          VARCHAR NOT NULL UNIQUE,
    hypothesis    TEXT,
    owner_employee_id INTEGER,                 -- product manager running it
    status        VARCHAR NOT NULL,            -- draft, running, stopped, shipped
    started_on    DATE,
    ended_on      DATE,
    traffic_share DOUBLE NOT NULL DEFAULT 1.0  -- fraction of traffic enrolled
);

CREATE TABLE experiment_assignments (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    user_id       BIGINT NOT NULL,
    variant       VARCHAR NOT NULL,            -- control, treatment, treatment_b
    assigned_at   TIMESTAMP NOT NULL,
    converted     BOOLEAN,                     -- NULL until the experiment ends
    PRIMARY KEY (experiment_id, user_id)
);

-- ================================================================ marketing

CREATE TABLE campaigns (
    campaign_id       INTEGER PRIMARY KEY,
    name              VARCHAR NOT NULL,
    channel           VARCHAR NOT NULL,        -- search, social, email, display, affiliate
    owner_employee_id INTEGER REFERENCES employees (employee_id),
    budget            DECIMAL(12,2),
    currency          CHAR(3) NOT NULL DEFAULT 'USD',
    starts_on         DATE NOT NULL,
    ends_on           DATE,
    target_country_code CHAR(2)                -- NULL = worldwide
);

CREATE TABLE campaign_events (
    event_id    BIGINT PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (campaign_id),
    user_id     BIGINT,
    event_type  VARCHAR NOT NULL,              -- impression, email_sent, email_opened, signup, purchase
    cost        DECIMAL(10,4) NOT NULL DEFAULT 0,
    occurred_at TIMESTAMP NOT NULL
);

CREATE TABLE ad_clicks (
    click_id       BIGINT PRIMARY KEY,
    campaign_id    INTEGER NOT NULL,           -- no declared key
    session_id     UUID,                       -- session the click started, when tracked
    keyword        VARCHAR,
    cost_per_click DECIMAL(8,4) NOT NULL,
    landing_url    VARCHAR,
    clicked_at     TIMESTAMP NOT NULL
);

CREATE TABLE notifications (
    notification_id BIGINT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (user_id),
    channel         VARCHAR NOT NULL,          -- email, push, sms, in_app
    template        VARCHAR NOT NULL,          -- order_shipped, invoice_due, weekly_digest, ...
    sent_at         TIMESTAMP NOT NULL,
    opened_at       TIMESTAMP,
    clicked_at      TIMESTAMP
);

-- ================================================================ support

CREATE TABLE agents (
    agent_id     INTEGER PRIMARY KEY,
    employee_id  INTEGER NOT NULL,             -- no declared key
    display_name VARCHAR NOT NULL,
    tier         TINYINT NOT NULL DEFAULT 1,   -- support tier 1-3
    languages    VARCHAR[],
    is_active    BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE tickets (
    ticket_id          BIGINT PRIMARY KEY,
    account_id         BIGINT,                 -- SaaS customer, or NULL
    user_id            BIGINT NOT NULL REFERENCES users (user_id),
    agent_id           INTEGER REFERENCES agents (agent_id),  -- NULL while unassigned
    order_id           BIGINT,                 -- marketplace order the ticket is about
    subject            VARCHAR NOT NULL,
    priority           VARCHAR NOT NULL,       -- low, normal, high, urgent
    status             VARCHAR NOT NULL,       -- new, open, pending, solved, closed
    channel            VARCHAR NOT NULL,       -- email, chat, phone, web_form
    opened_at          TIMESTAMP NOT NULL,
    first_response_at  TIMESTAMP,
    resolved_at        TIMESTAMP,
    satisfaction_score TINYINT                 -- CSAT 1-5, NULL if not rated
);

CREATE TABLE ticket_comments (
    comment_id     BIGINT PRIMARY KEY,
    ticket_id      BIGINT NOT NULL REFERENCES tickets (ticket_id),
    author_user_id BIGINT,                     -- customer author, or NULL
    agent_id       INTEGER,                    -- agent author, or NULL
    body           TEXT NOT NULL,
    is_internal    BOOLEAN NOT NULL DEFAULT FALSE, -- internal note not shown to the customer
    created_at     TIMESTAMP NOT NULL
);

CREATE TABLE ticket_tags (
    ticket_id BIGINT NOT NULL REFERENCES tickets (ticket_id),
    tag       VARCHAR NOT NULL,                -- billing, bug, shipping, refund, how_to
    PRIMARY KEY (ticket_id, tag)
);

-- ================================================================ audit

CREATE TABLE audit_log (
    audit_id      BIGINT PRIMARY KEY,
    actor_user_id BIGINT,                      -- NULL for system actions
    account_id    BIGINT,
    action        VARCHAR NOT NULL,            -- create, update, delete, login, export
    entity_type   VARCHAR NOT NULL,            -- table the action touched, e.g. invoices
    entity_id     BIGINT,
    payload       JSON,                        -- before/after values
    ip_address    VARCHAR(45),
    occurred_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE data_exports (
    export_id    UUID PRIMARY KEY,
    account_id   BIGINT NOT NULL,
    requested_by BIGINT,                       -- user who asked for the export
    format       VARCHAR NOT NULL,             -- csv, parquet, json
    row_count    BIGINT,
    file_size_mb DOUBLE,
    requested_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    duration     INTERVAL
);
