# expect: ok
"""
Flatten nested JSON order documents (like an API export) into tidy tables with
pandas.json_normalize, then report revenue per country and per product line.
"""
import json
import random

import pandas as pd

# Step 1: Create a nested JSON export
rnd = random.Random(10)
countries = ["DE", "FR", "ES", "IT", "NL"]
catalog = {"SKU-1": ("Espresso beans", 14.5), "SKU-2": ("Grinder", 89.0), "SKU-3": ("Milk frother", 39.9),
           "SKU-4": ("Paper filters", 4.2), "SKU-5": ("Travel mug", 19.0)}
orders = []
for order_id in range(1, 8_001):
    items = []
    for sku in rnd.sample(sorted(catalog), rnd.randint(1, 4)):
        items.append({"sku": sku, "name": catalog[sku][0], "qty": rnd.randint(1, 3), "unit_price": catalog[sku][1]})
    orders.append({
        "id": order_id,
        "created": f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        "customer": {"id": rnd.randint(1, 2_000), "address": {"country": rnd.choice(countries)}},
        "items": items,
        "coupon": rnd.choice([None, None, None, {"code": "WELCOME10", "percent": 10}]),
    })
with open("orders.json", "w") as fh:
    json.dump({"orders": orders, "exported": "2025-01-01"}, fh)

# Step 2: Load and flatten the order headers
with open("orders.json") as fh:
    export = json.load(fh)
headers = pd.json_normalize(export["orders"], sep="_").drop(columns=["items"])
print(headers.head())
print("Columns:", list(headers.columns))

# Step 3: One row per order line, keeping order-level fields
lines = pd.json_normalize(export["orders"], record_path="items",
                          meta=["id", "created", ["customer", "address", "country"]], sep="_")
lines["line_total"] = lines["qty"] * lines["unit_price"]
print(f"\n{len(lines)} order lines")

# Step 4: Apply coupons and aggregate
discount = headers.set_index("id")["coupon_percent"].fillna(0) / 100
lines["net"] = lines["line_total"] * (1 - lines["id"].map(discount))
by_country = lines.groupby("customer_address_country")["net"].sum().sort_values(ascending=False)
print("\nNet revenue by country:")
print(by_country.round(2))
by_product = lines.groupby("name").agg(units=("qty", "sum"), revenue=("net", "sum"))
print("\nProduct lines:")
print(by_product.sort_values("revenue", ascending=False).round(2))

# Step 5: Monthly trend
lines["month"] = pd.to_datetime(lines["created"]).dt.month
print("\nBest month:", lines.groupby("month")["net"].sum().idxmax())
print(f"Coupon usage: {headers['coupon_code'].notna().mean():.1%} of orders")
