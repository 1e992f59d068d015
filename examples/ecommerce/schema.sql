-- ecommerce: the embedded two-table example (DuckDB dialect).
-- An online shop's users and their website sessions: one row per user, one row per session,
-- with revenue, fraud flag, device OS and browser. The sidecar next to this file
-- (schema.yaml) adds descriptions, synonyms, metrics such as fraud_rate, and business rules.
-- DuckDB port of the ClickHouse schema in miptgirl/miptgirl_medium
-- (analyst_agent/generate_synthetic_data_for_sql.ipynb): UInt64 -> BIGINT, UInt8 -> INTEGER,
-- Float32 -> DOUBLE, String -> VARCHAR; ENGINE/PARTITION clauses dropped.
--
-- Run the whole pipeline on it:
--   make distill SCHEMA=examples/ecommerce/schema.sql
-- or only inspect what the loader sees:
--   .venv/bin/schemadistill schema examples/ecommerce/schema.sql
CREATE SCHEMA IF NOT EXISTS ecommerce;

CREATE TABLE ecommerce.users (
    user_id   BIGINT,   -- unique identifier of the user
    country   VARCHAR,  -- country of the user
    is_active INTEGER,  -- 1 = active, 0 = deactivated
    age       BIGINT    -- age in years
);

CREATE TABLE ecommerce.sessions (
    user_id          BIGINT,   -- the user of the session; joins ecommerce.users.user_id
    session_id       BIGINT,   -- unique identifier of the session
    action_date      DATE,     -- date of the session
    session_duration BIGINT,   -- duration of the session in seconds
    os               VARCHAR,  -- operating system: Windows, iOS, Android
    browser          VARCHAR,  -- browser: Chrome, Safari, Firefox
    is_fraud         INTEGER,  -- 1 if the session is fraudulent, 0 otherwise
    revenue          DOUBLE    -- revenue of the session (0 if no purchase)
);
