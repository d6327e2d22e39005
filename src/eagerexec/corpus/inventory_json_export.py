# expect: error TypeError line 37
# Warehouse inventory report: compute stock levels per category from simulated stock
# movements and export a JSON summary for the dashboard team.
import json

import numpy as np
import pandas as pd

# Step 1: Simulate stock movements
rng = np.random.default_rng(21)
skus = [f"SKU-{i:05d}" for i in range(2_000)]
categories = rng.choice(["electronics", "garden", "kitchen", "toys", "office"], len(skus))
catalog = pd.DataFrame({"sku": skus, "category": categories, "unit_cost": rng.uniform(2, 400, len(skus)).round(2)})
moves = pd.DataFrame({
    "sku": rng.choice(skus, 300_000),
    "qty": rng.integers(-20, 40, 300_000),
    "day": rng.integers(1, 366, 300_000),
})
moves.to_csv("stock_moves.csv", index=False)
catalog.to_csv("catalog.csv", index=False)

# Step 2: Current stock per SKU
moves = pd.read_csv("stock_moves.csv")
stock = moves.groupby("sku", as_index=False)["qty"].sum().rename(columns={"qty": "on_hand"})
stock = stock.merge(pd.read_csv("catalog.csv"), on="sku")
stock["value"] = stock["on_hand"] * stock["unit_cost"]
print(stock.sort_values("value", ascending=False).head())

# Step 3: Export the dashboard JSON
report = {
    "total_units": stock["on_hand"].sum(),
    "total_value": round(stock["value"].sum(), 2),
    "categories": sorted(stock["category"].unique().tolist()),
    "low_stock_skus": stock.loc[stock["on_hand"] < 100, "sku"].tolist()[:20],
}
with open("inventory_report.json", "w") as fh:
    json.dump(report, fh, indent=2)
print("Report written to inventory_report.json")

# Step 4: Category summary
summary = stock.groupby("category").agg(
    skus=("sku", "count"), units=("on_hand", "sum"), value=("value", "sum")
)
print("\nStock by category:")
print(summary.round(2))

# Step 5: Reorder list
reorder = stock[stock["on_hand"] < 150].sort_values("on_hand")
print(f"\n{len(reorder)} SKUs need reordering")
print(reorder.head(10).to_string(index=False))
