"""Schemas for the sandbox tests, built straight from the model dataclasses (no DDL loader)."""

from __future__ import annotations

from schemadistill.schema.model import Column, ForeignKey, Schema, Table


def C(name: str, type: str, nullable: bool = True, **kw: object) -> Column:  # noqa: N802
    return Column(name=name, type=type, nullable=nullable, **kw)  # type: ignore[arg-type]


def ecommerce_schema() -> Schema:
    """Three db-schemas, a composite key, a self reference, an FK cycle and every type family."""
    users = Table("users", "ecommerce", [
        C("user_id", "integer", False), C("email", "text", False), C("name", "text"),
        C("country", "text"), C("gender", "text"), C("age", "integer"),
        C("signup_date", "date", False), C("is_premium", "boolean", False),
        C("created_at", "timestamp"), C("plan", "text", examples=["free", "pro", "team"]),
    ], primary_key=["user_id"])
    products = Table("products", "ecommerce", [
        C("product_id", "integer", False), C("name", "text"), C("category", "text"),
        C("price", "decimal", False, duckdb_type="DECIMAL(10,2)"), C("rating", "integer"),
    ], primary_key=["product_id"])
    orders = Table("orders", "ecommerce", [
        C("order_id", "integer", False), C("user_id", "integer", False),
        C("ordered_at", "timestamp", False), C("status", "text"), C("total_amount", "decimal"),
        C("shipped_at", "timestamp"), C("payment_method", "text"),
    ], primary_key=["order_id"], time_column="ordered_at")
    items = Table("order_items", "ecommerce", [
        C("order_id", "integer", False), C("line_no", "integer", False),
        C("product_id", "integer", False), C("quantity", "integer", False), C("unit_price", "float"),
    ], primary_key=["order_id", "line_no"])
    sessions = Table("sessions", "analytics", [
        C("session_id", "uuid", False), C("user_id", "integer"), C("started_at", "timestamp", False),
        C("ended_at", "timestamp"), C("os", "text"), C("browser", "text"),
        C("duration_seconds", "integer"), C("revenue", "float"), C("has_purchase", "integer", False),
    ], primary_key=["session_id"])
    departments = Table("departments", "hr", [
        C("department_id", "integer", False), C("department_name", "text", False),
        C("head_employee_id", "integer"),
    ], primary_key=["department_id"])
    employees = Table("employees", "hr", [
        C("employee_id", "integer", False), C("department_id", "integer", False),
        C("manager_id", "integer"), C("salary", "decimal"), C("hired_on", "date"),
        C("birth_date", "date"), C("shift_start", "time"), C("notice", "interval"),
        C("avatar", "blob"), C("profile", "json"), C("tags", "other", duckdb_type="VARCHAR[]"),
        C("badge", "text", role="flag"), C("level", "integer",
            duckdb_type="SMALLINT"),
    ], primary_key=["employee_id"])
    config = Table("app_config", None, [
        C("key", "text", False), C("value", "json"), C("updated_at", "timestamp"),
    ], primary_key=["key"])
    fks = [
        ForeignKey("ecommerce.orders", ["user_id"], "ecommerce.users", ["user_id"]),
        ForeignKey("ecommerce.order_items", ["order_id"], "ecommerce.orders", ["order_id"]),
        ForeignKey("ecommerce.order_items", ["product_id"], "ecommerce.products", ["product_id"]),
        ForeignKey("analytics.sessions", ["user_id"], "ecommerce.users", ["user_id"]),
        ForeignKey("hr.employees", ["department_id"], "hr.departments", ["department_id"]),
        ForeignKey("hr.departments", ["head_employee_id"], "hr.employees", ["employee_id"]),
        ForeignKey("hr.employees", ["manager_id"], "hr.employees", ["employee_id"]),
    ]
    return Schema(tables=[users, products, orders, items, sessions, departments, employees, config],
                  foreign_keys=fks)


def small_schema() -> Schema:
    """Two tables, one FK: fast enough for data-loading and executor tests."""
    users = Table("users", "shop", [
        C("user_id", "integer", False), C("name", "text"), C("country", "text"),
        C("signup_date", "date"),
    ], primary_key=["user_id"])
    orders = Table("orders", "shop", [
        C("order_id", "integer", False), C("user_id", "integer", False), C("amount", "decimal"),
        C("ordered_at", "timestamp"),
    ], primary_key=["order_id"])
    return Schema(tables=[users, orders],
                  foreign_keys=[ForeignKey("shop.orders", ["user_id"], "shop.users", ["user_id"])])
