"""Name-based values for synthetic columns (used by :mod:`.synth`).

A column's name tokens (``billing_country`` -> billing, country) pick what its values look
like: real country names, browsers, lognormal prices, 1-5 ratings. Lists are ordered most
common first, because draws are Zipf-skewed: "top country" then has a clear answer, as in
real data. The name decides before the inferred role: the schema stage calls names, emails
and URLs role "text", but they must still look like names, emails and URLs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

COUNTRIES = ["United States", "United Kingdom", "Germany", "India", "France", "Canada", "Brazil",
             "Japan", "Australia", "Spain", "Italy", "Mexico", "Netherlands", "Sweden", "Poland",
             "South Korea", "Nigeria", "South Africa", "Argentina", "Ireland", "New Zealand",
             "Singapore", "Norway", "Switzerland", "Turkey"]
ISO2 = ["US", "GB", "DE", "IN", "FR", "CA", "BR", "JP", "AU", "ES", "IT", "MX", "NL", "SE", "PL",
        "KR", "NG", "ZA", "AR", "IE", "NZ", "SG", "NO", "CH", "TR"]
CURRENCIES = ["USD", "EUR", "GBP", "INR", "CAD", "JPY", "AUD", "BRL", "MXN", "SEK", "PLN", "CHF"]
CITIES = ["New York", "London", "Berlin", "Mumbai", "Paris", "Toronto", "São Paulo", "Tokyo",
          "Sydney", "Madrid", "Chicago", "Manchester", "Munich", "Lyon", "Bangalore", "Austin",
          "Seattle", "Dublin", "Amsterdam", "Stockholm"]
STATES = ["California", "Texas", "New York", "Florida", "Illinois", "Washington", "Ohio", "Georgia",
          "Massachusetts", "Colorado", "Oregon", "Arizona"]
FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "Wei", "Priya", "Carlos", "Sofia", "Ahmed", "Fatima", "Yuki", "Olga", "Liam",
         "Emma", "Noah", "Olivia", "Lucas", "Mia", "Mateo", "Aisha", "Hans", "Chloe", "Arjun", "Ana"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
        "Lopez", "Wang", "Kim", "Patel", "Singh", "Müller", "Schmidt", "Rossi", "Silva", "Nguyen",
        "Tanaka", "O'Brien", "Kowalski", "Andersson", "Dubois", "Cohen", "Ivanova", "Khan", "Lee"]
ADJ = ["Classic", "Premium", "Smart", "Eco", "Ultra", "Compact", "Deluxe", "Essential", "Pro",
       "Vintage", "Wireless", "Organic", "Portable", "Modern", "Rustic", "Sport"]
NOUN = ["Backpack", "Headphones", "Mug", "Lamp", "Sneakers", "Watch", "Blender", "Jacket", "Desk",
        "Notebook", "Speaker", "Bottle", "Chair", "Camera", "Tent", "Keyboard", "Sofa", "Kettle"]
WORDS = ("the a great product service order delivery fast slow quality price support team account "
         "issue refund happy again would recommend not very good bad late arrived easy use works "
         "broken customer experience update app feature love problem resolved quickly thanks").split()
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne",
             "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Massive Dynamic", "Pied Piper"]
DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Support", "Finance", "HR", "Operations", "Legal"]
CATEGORY = ["Electronics", "Clothing", "Home & Kitchen", "Books", "Sports", "Beauty", "Toys",
            "Grocery", "Automotive", "Garden"]

# vocabulary key -> values, most common first
CATEGORIES: dict[str, list[str]] = {
    "country": COUNTRIES, "country_code": ISO2, "currency": CURRENCIES, "city": CITIES,
    "state": STATES, "region": ["North America", "Europe", "APAC", "LATAM", "Middle East & Africa"],
    "continent": ["North America", "Europe", "Asia", "South America", "Africa", "Oceania"],
    "os": ["Windows", "iOS", "Android", "macOS", "Linux"],
    "browser": ["Chrome", "Safari", "Edge", "Firefox", "Samsung Internet", "Opera"],
    "device": ["mobile", "desktop", "tablet"], "platform": ["web", "ios", "android"],
    "category": CATEGORY, "gender": ["female", "male", "non-binary", "unknown"],
    "channel": ["organic", "paid_search", "email", "social", "referral", "direct", "affiliate"],
    "payment_method": ["credit_card", "paypal", "debit_card", "bank_transfer", "apple_pay",
                       "google_pay", "gift_card"],
    "card": ["Visa", "Mastercard", "Amex", "Discover"],
    "plan": ["free", "basic", "pro", "enterprise"], "period": ["monthly", "annual", "quarterly"],
    "language": ["en", "es", "de", "fr", "pt", "ja", "hi"],
    "source": ["google", "facebook", "newsletter", "instagram", "bing", "linkedin", "tiktok"],
    "department": DEPARTMENTS,
    "job_title": ["Software Engineer", "Account Executive", "Support Specialist", "Data Analyst",
                  "Product Manager", "Designer", "Engineering Manager", "Recruiter"],
    "color": ["black", "white", "blue", "red", "grey", "green", "navy", "beige"],
    "size": ["M", "L", "S", "XL", "XS", "XXL"], "brand": COMPANIES[:8],
    "event": ["page_view", "click", "add_to_cart", "search", "login", "purchase", "signup", "logout"],
    "page": ["/home", "/products", "/search", "/cart", "/checkout", "/account", "/blog", "/pricing"],
    "carrier": ["UPS", "FedEx", "DHL", "USPS", "Royal Mail"],
    "segment": ["consumer", "smb", "mid_market", "enterprise"],
    "industry": ["Technology", "Retail", "Finance", "Healthcare", "Manufacturing", "Education", "Media"],
    "priority": ["medium", "low", "high", "urgent"], "severity": ["minor", "major", "critical", "blocker"],
    "timezone": ["UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Kolkata",
                 "Asia/Tokyo", "America/Los_Angeles"],
    "unit": ["pcs", "kg", "box", "l", "m"], "format": ["csv", "xlsx", "json", "parquet", "pdf"],
    "reason": ["damaged", "wrong_item", "no_longer_needed", "late_delivery", "better_price", "other"],
    "role": ["member", "admin", "viewer", "editor", "owner"],
    "variant": ["control", "treatment", "treatment_b"],
    "keyword": [n.lower() for n in NOUN], "type": ["standard", "premium", "basic", "custom"],
    "domain": ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "example.com"],
}
STATUS_ORDER = ["delivered", "shipped", "pending", "cancelled", "returned"]
STATUS_PAYMENT = ["succeeded", "pending", "failed", "refunded"]
STATUS_GENERIC = ["active", "inactive", "pending", "suspended", "closed"]
GENERIC = ["standard", "premium", "basic", "plus", "classic", "express", "economy", "custom", "other"]

ALIASES = {
    "nation": "country", "province": "state", "town": "city", "ccy": "currency", "sex": "gender",
    "medium": "channel", "tier": "plan", "subscription": "plan", "lang": "language",
    "locale": "language", "utm": "source", "dept": "department", "team": "department",
    "colour": "color", "manufacturer": "brand", "action": "event", "path": "page",
    "shipper": "carrier", "tz": "timezone", "kind": "type", "genre": "category",
    "method": "payment_method", "billing": "period", "frequency": "period", "interval": "period",
    "term": "keyword", "query": "keyword", "search": "keyword", "mail": "email", "site": "website",
    "link": "url", "uri": "url", "referrer": "url", "homepage": "url", "mobile": "phone",
    "telephone": "phone", "tel": "phone", "postcode": "zip", "zipcode": "zip", "login": "username",
    "handle": "username", "nickname": "username", "line1": "address", "line2": "address",
    "experiment": "variant", "arm": "variant", "bucket": "variant",
}
MULTI = {"country_code": "country_code", "payment_method": "payment_method", "job_title": "job_title",
         "device_type": "device", "event_type": "event", "event_name": "event", "page_type": "page",
         "operating_system": "os", "payment_type": "payment_method", "zip_code": "zip",
         "postal_code": "zip", "first_name": "first_name", "last_name": "last_name",
         "full_name": "person", "display_name": "person", "user_agent": "user_agent",
         "ip_address": "ip", "email_address": "email", "card_brand": "card", "last4": "last4",
         "last_4": "last4", "street_address": "address", "address_line": "address"}
WEAK = {"name", "type", "code", "id", "key", "value", "label", "desc"}
SPECIAL = {"status", "email", "phone", "url", "website", "ip", "zip", "address", "street", "sku",
           "version", "company", "title", "name", "username", "slug", "barcode", "number", "no",
           "last4"}
PERSON_TABLES = {"user", "customer", "employee", "person", "people", "member", "author", "staff",
                 "contact", "patient", "student", "driver", "agent", "seller", "buyer", "owner",
                 "manager", "player", "guest", "client", "subscriber", "candidate", "teacher"}
ORG_TABLES = {"brand", "vendor", "organization", "organisation", "company", "supplier", "carrier",
              "merchant", "partner", "account", "advertiser", "tenant", "customer_org", "shop"}
FREE_TEXT = {"description", "comment", "comments", "note", "notes", "body", "message", "text",
             "content", "review", "summary", "bio", "feedback", "remarks", "details", "subject",
             "hypothesis", "scopes", "template", "reply", "answer", "question"}
MONEY = {"price", "amount", "revenue", "total", "cost", "sales", "spend", "spent", "fee", "fees",
         "salary", "balance", "income", "profit", "gmv", "subtotal", "tax", "shipping", "value",
         "payment", "paid", "budget", "wage", "charge", "refund", "arpu", "ltv", "mrr", "arr", "pay",
         "bonus", "gross", "net", "withheld", "commission", "tip", "discount_amount"}
SMALL_MONEY = {"tax", "fee", "fees", "shipping", "tip", "withheld", "bonus", "discount"}
ZERO_INFLATED = {"revenue", "sales", "profit", "spend", "spent", "gmv", "income", "refund", "mrr",
                 "bonus", "discount"}
COUNT = {"count", "cnt", "num", "number", "clicks", "views", "visits", "pageviews", "impressions",
         "sessions", "orders", "attempts", "retries", "likes", "followers", "events", "logins",
         "downloads", "installs", "purchases", "votes", "n"}
QUANTITY = {"quantity", "qty", "units", "items", "seats", "stock", "inventory"}
DURATION = {"duration", "seconds", "secs", "sec", "ms", "millis", "milliseconds", "minutes", "mins",
            "hours", "elapsed", "latency", "dwell", "tenure", "length"}
RATIO = {"percent", "pct", "rate", "ratio", "share", "probability", "conversion", "ctr", "churn"}
PHYSICAL = {"weight", "height", "width", "depth", "distance", "km", "miles", "kg", "lbs", "grams",
            "mb", "gb", "kb", "bytes"}
FLAG_PREFIX = {"is", "has", "can", "should", "was", "did", "allow", "allows"}
CHARM = np.array([4.99, 9.99, 14.99, 19.99, 24.99, 29.99, 49.99, 79.99, 99.99, 149.0, 199.0])


def zipf(rng: np.random.Generator, values: Sequence[object], n: int, a: float = 1.1) -> pa.Array:
    w = 1.0 / np.arange(1, len(values) + 1) ** a
    idx = rng.choice(len(values), size=n, p=w / w.sum())
    return pa.array(list(values)).take(pa.array(idx))


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def is_flag(toks: list[str], role: str | None) -> bool:
    return role == "flag" or (len(toks) > 1 and (toks[0] in FLAG_PREFIX or toks[-1] == "flag"))


# -- numbers ----------------------------------------------------------------------------------
def numeric(rng: np.random.Generator, n: int, toks: list[str],
            role: str | None) -> tuple[np.ndarray, bool]:
    """Float values for a numeric column (the caller rounds/clips them to the column type), and
    whether they are an open-ended measure that may be rescaled to the sidecar's examples."""
    t = set(toks)
    if "age" in t:
        return np.clip(rng.normal(38, 13, n), 18, 80).round(), False
    if t & {"rating", "stars", "star"}:
        return rng.choice(np.arange(1, 6), size=n, p=[0.05, 0.07, 0.15, 0.33, 0.40]).astype(float), False
    if "score" in t or "nps" in t:
        return np.clip(rng.normal(70, 18, n), 0, 100).round(), False
    if "year" in t:
        lo, hi = (1945, 2007) if t & {"birth", "born", "dob"} else (2010, 2025)
        return rng.integers(lo, hi, n).astype(float), False
    if "month" in t:
        return rng.integers(1, 13, n).astype(float), False
    if "hour" in t and "rate" not in t:
        return rng.integers(0, 24, n).astype(float), False
    if t & {"lat", "latitude"}:
        return np.round(rng.uniform(-60, 70, n), 4), False
    if t & {"lon", "lng", "longitude"}:
        return np.round(rng.uniform(-180, 180, n), 4), False
    if "population" in t:
        return np.round(rng.lognormal(11, 1.5, n), -2), True
    if "discount" in t and not t & MONEY:
        x = rng.choice([0.0, 0.05, 0.1, 0.15, 0.2, 0.25], size=n, p=[0.55, 0.15, 0.12, 0.08, 0.06, 0.04])
        return (x * 100 if t & {"pct", "percent"} else x), False
    if "rate" in t and t & {"hourly", "daily", "nightly", "weekly", "pay", "wage", "billing"}:
        return _ties(rng, np.round(rng.lognormal(3.1, 0.35, n), 2)), True  # a pay rate, not a ratio
    if t & RATIO:
        x = np.round(rng.beta(2, 5, n), 3)
        return _ties(rng, np.round(x * 100, 1) if t & {"pct", "percent"} else x), False
    if t & MONEY or "discount" in t:
        return _ties(rng, _money(rng, n, t)), True
    if t & QUANTITY:
        return rng.geometric(0.45, n).astype(float), True
    if t & COUNT:
        return _ties(rng, np.floor(rng.lognormal(1.5, 1.0, n))), True
    if t & DURATION:
        scale = 7.5 if t & {"ms", "millis", "milliseconds", "latency"} else 5.0
        return _ties(rng, np.round(rng.lognormal(scale, 1.1, n))), True
    if t & PHYSICAL:
        return _ties(rng, np.round(rng.lognormal(2.5, 0.7, n), 1)), True
    if role == "id" or (toks and toks[-1] == "id"):  # an id that references nothing we know
        return rng.integers(1, 10 * max(n, 10), n).astype(float), False
    if role == "dimension":
        return zipf(rng, list(range(1, 11)), n).to_numpy().astype(float), False
    return _ties(rng, np.round(rng.lognormal(3.0, 1.2, n), 2)), True


def _money(rng: np.random.Generator, n: int, t: set[str]) -> np.ndarray:
    if t & {"salary", "wage"} or ("annual" in t and "pay" in t):
        return np.round(rng.lognormal(11.1, 0.35, n), -2)
    if "price" in t:
        x = np.where(rng.random(n) < 0.5, rng.choice(CHARM, n), rng.lognormal(3.3, 0.9, n))
    elif t & SMALL_MONEY:
        x = rng.lognormal(1.8, 0.8, n)
    else:
        x = rng.lognormal(3.8, 1.0, n)
    if t & ZERO_INFLATED:
        x[rng.random(n) < 0.3] = 0.0
    return np.round(x, 2)


def _ties(rng: np.random.Generator, x: np.ndarray, frac: float = 0.05) -> np.ndarray:
    """Copy a few values onto other rows so ORDER BY / RANK questions meet ties."""
    if len(x) >= 4:
        k = max(1, int(len(x) * frac))
        x[rng.integers(0, len(x), k)] = x[rng.integers(0, len(x), k)]
    return x


# -- text -------------------------------------------------------------------------------------
def category_key(toks: list[str]) -> str | None:
    """The vocabulary a column name asks for: multi-word names first, then the last strong
    word (``billing_country`` -> country), then weak words such as ``name``."""
    joined = "_".join(toks)
    for multi, key in MULTI.items():
        if multi in joined:
            return key
    strong = [t for t in reversed(toks) if t not in WEAK]
    for tok in strong + [t for t in reversed(toks) if t in WEAK]:
        for cand in (tok, singular(tok)):
            key = ALIASES.get(cand, cand)
            if key in CATEGORIES or key in SPECIAL:
                return key
    return None


def _table_kind(table: str) -> str:
    words = {singular(w) for w in table.lower().split("_")} | {table.lower()}
    if words & PERSON_TABLES:
        return "person"
    if words & ORG_TABLES:
        return "org"
    for w in ("country", "city", "region", "state", "category", "department", "team", "plan",
              "currency", "warehouse", "store", "location"):
        if w in words:
            return w
    return "thing"


def entity_names(rng: np.random.Generator, n: int, table: str, unique: bool = False) -> list[str]:
    """What ``name`` means in this table: a person, a company, a city, a product...

    People share names; other entities get one name each (real ones first, then numbered
    repeats such as "Berlin 2"), unless they are only mentioned (``unique=False``)."""
    kind = _table_kind(table)
    pool: list[str] = {
        "country": COUNTRIES, "city": CITIES, "region": STATES, "state": STATES,
        "category": CATEGORY, "department": DEPARTMENTS, "team": DEPARTMENTS, "currency": CURRENCIES,
        "plan": ["Free", "Starter", "Pro", "Business", "Enterprise"],
        "org": [f"{c} {s}" for s, c in itertools.product(["Inc", "LLC", "Ltd", "GmbH"], COMPANIES)],
        "person": [f"{f} {la}" for la, f in itertools.product(LAST, FIRST)],
        "warehouse": [f"{c} Hub" for c in CITIES], "store": [f"{c} Store" for c in CITIES],
        "location": [f"{c} Office" for c in CITIES],
    }.get(kind, [f"{a} {b}" for b, a in itertools.product(NOUN, ADJ)])
    if kind == "person" and not unique:
        return [pool[i] for i in rng.integers(0, len(pool), n).tolist()]
    # one row per entity: the real names first, numbered repeats once they run out
    order = rng.permutation(len(pool)).tolist() if kind in ("person", "thing", "org") else range(len(pool))
    names = [pool[i] for i in order]
    return [names[i % len(names)] + ("" if i < len(names) else f" {i // len(names) + 1}") for i in range(n)]


def key_text(rng: np.random.Generator, n: int, toks: list[str], table: str) -> list[str]:
    """Unique text keys that still look like the column (ISO codes, emails, names)."""
    key = category_key(toks)
    if key in ("country_code", "currency"):
        width = 2 if key == "country_code" else 3
        real = ISO2 if key == "country_code" else CURRENCIES
        more = ("".join(p) for p in itertools.product("ABCDEFGHIJKLMNOPQRSTUVWXYZ", repeat=width))
        seen = set(real)
        return list(itertools.islice(itertools.chain(real, (c for c in more if c not in seen)), n))
    if key == "email":
        return [e for e in text(rng, n, toks, None, table).to_pylist()]  # numbered, so unique
    if key in ("name", "title", "country", "city", "category", "department"):
        return entity_names(rng, n, table if key in ("name", "title") else key, unique=True)
    prefix = "".join(c for c in singular(table) if c.isalpha())[:3].upper() or "K"
    return [f"{prefix}-{i:06d}" for i in range(1, n + 1)]


def text(rng: np.random.Generator, n: int, toks: list[str], role: str | None, table: str) -> pa.Array:
    """Text values by column name; unknown names get plausible generic labels."""
    key = category_key(toks)
    t = set(toks)
    ints = rng.integers(0, 10**9, n).tolist()
    if key == "status":
        tl = table.lower()
        vals = (STATUS_ORDER if any(w in tl for w in ("order", "shipment", "delivery")) else
                STATUS_PAYMENT if any(w in tl for w in ("payment", "transaction", "invoice", "charge"))
                else STATUS_GENERIC)
        return zipf(rng, vals, n)
    if key in CATEGORIES:
        return zipf(rng, CATEGORIES[key], n)
    if key is None or (key in ("title", "name") and t & FREE_TEXT):
        if role == "text" or t & FREE_TEXT:
            return sentences(rng, n)
        if role == "id" or (toks and toks[-1] in ("id", "code", "key", "ref", "reference", "hash")):
            return pa.array([f"{toks[0][:3].upper()}-{i % 1000000:06d}" for i in ints])
        return zipf(rng, GENERIC, n)
    first, last = zipf(rng, FIRST, n, 0.6).to_pylist(), zipf(rng, LAST, n, 0.6).to_pylist()
    fmt = {
        "first_name": lambda: first, "last_name": lambda: last,
        "person": lambda: [f"{a} {b}" for a, b in zip(first, last, strict=True)],
        "email": lambda: [f"{_ascii(a)}.{_ascii(b)}{i}@{d}" for a, b, i, d in zip(
            first, last, range(1, n + 1), zipf(rng, CATEGORIES["domain"], n).to_pylist(), strict=True)],
        "username": lambda: [f"{a.lower()}{i % 10000}" for a, i in zip(first, ints, strict=True)],
        "phone": lambda: [f"+1-555-{i % 1000:03d}-{(i // 1000) % 10000:04d}" for i in ints],
        "url": lambda: [f"https://www.{c.lower().replace(' ', '')}.com/p/{i % 100000}" for c, i in zip(
            zipf(rng, COMPANIES, n).to_pylist(), ints, strict=True)],
        "ip": lambda: [f"{10 + i % 200}.{(i >> 8) % 256}.{(i >> 16) % 256}.{(i >> 24) % 254 + 1}"
                       for i in ints],
        "zip": lambda: [f"{i % 100000:05d}" for i in ints],
        "address": lambda: [f"{i % 9000 + 1} {s}" for i, s in zip(ints, zipf(rng, [
            "Main St", "Oak Ave", "Maple Rd", "Park Lane", "High St", "Elm St", "Cedar Blvd"], n).to_pylist(),
            strict=True)],
        "sku": lambda: [f"SKU-{i % 100000:05d}" for i in ints],
        "barcode": lambda: [f"{i:09d}{i % 9973:04d}" for i in ints],
        "last4": lambda: [f"{i % 10000:04d}" for i in ints],
        "number": lambda: [f"{toks[0][:3].upper()}-{i % 10000000:07d}" for i in ints],
        "version": lambda: [f"{a}.{i % 10}.{i // 10 % 5}" for a, i in zip(
            zipf(rng, [3, 2, 4, 1], n).to_pylist(), ints, strict=True)],
        "company": lambda: zipf(rng, entity_names(rng, 30, "company"), n).to_pylist(),
        "slug": lambda: [s.lower().replace(" ", "-") for s in entity_names(rng, n, table)],
        "user_agent": lambda: zipf(rng, ["Mozilla/5.0 (Windows NT 10.0)", "Mozilla/5.0 (iPhone)",
                                         "Mozilla/5.0 (Linux; Android 14)", "Mozilla/5.0 (Macintosh)"],
                                   n).to_pylist(),
        "title": lambda: entity_names(rng, n, "product"),  # a product-like title per row
        "name": lambda: entity_names(rng, n, table),
    }
    aliases = {"website": "url", "street": "address", "no": "number"}
    return pa.array(fmt[aliases.get(key, key)]())


def sentences(rng: np.random.Generator, n: int) -> pa.Array:
    # a pool keeps this fast for big tables; repeats are fine for free text
    pool_n = max(1, min(n, 500))
    lengths = rng.integers(4, 14, pool_n)
    words = rng.choice(len(WORDS), size=(pool_n, 14))
    pool = []
    for ln, row in zip(lengths.tolist(), words.tolist(), strict=True):
        s = " ".join(WORDS[w] for w in row[:ln])
        pool.append(s[0].upper() + s[1:] + ".")
    return pa.array(pool).take(pa.array(rng.integers(0, pool_n, n)))


def json_values(rng: np.random.Generator, n: int) -> pa.Array:
    src = zipf(rng, CATEGORIES["source"], n).to_pylist()
    score = rng.integers(0, 100, n).tolist()
    return pa.array([f'{{"source": "{s}", "score": {v}}}' for s, v in zip(src, score, strict=True)])


def list_values(rng: np.random.Generator, n: int, element_type: str) -> pa.Array:
    """DuckDB list literals (``[3, 1]`` / ``[premium, plus]``) for ``X[]`` columns."""
    numeric_elem = any(k in element_type.upper() for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL"))
    lengths = rng.integers(0, 4, n).tolist()
    picks = rng.integers(0, len(GENERIC), (n, 3)).tolist()
    items = [[str(p + 1) if numeric_elem else GENERIC[p] for p in row[:k]]
             for row, k in zip(picks, lengths, strict=True)]
    return pa.array(["[" + ", ".join(x) + "]" for x in items])


def _ascii(name: str) -> str:
    """Lower-case e-mail part of a name: Müller -> mueller, O'Brien -> obrien."""
    return name.lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("'", "")
