# expect: ok
"""
Sales performance report.

Generates a year of synthetic transactions, saves them to CSV, then summarises revenue
by region and product, builds a monthly pivot table and plots the monthly trend.
"""
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

# Step 1: Generate synthetic sales data
rng = np.random.default_rng(42)
n_rows = 200_000
regions = ["North", "South", "East", "West"]
products = ["Laptop", "Monitor", "Keyboard", "Mouse", "Headset"]
base_price = {"Laptop": 950.0, "Monitor": 230.0, "Keyboard": 45.0, "Mouse": 25.0, "Headset": 80.0}

dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n_rows), unit="D")
product_col = rng.choice(products, n_rows, p=[0.1, 0.15, 0.25, 0.3, 0.2])
sales = pd.DataFrame({
    "date": dates,
    "region": rng.choice(regions, n_rows),
    "product": product_col,
    "units": rng.integers(1, 6, n_rows),
    "unit_price": [base_price[p] for p in product_col] * rng.uniform(0.9, 1.1, n_rows),
})
sales["revenue"] = (sales["units"] * sales["unit_price"]).round(2)
sales.to_csv("sales_2023.csv", index=False)
print(f"Generated {len(sales):,} transactions")

# Step 2: Load the data back and check it
df = pd.read_csv("sales_2023.csv", parse_dates=["date"])
print(df.head())
print("\nMissing values per column:\n", df.isna().sum())

# Step 3: Revenue by region
by_region = df.groupby("region")["revenue"].agg(["sum", "mean", "count"]).sort_values("sum", ascending=False)
print("\nRevenue by region:")
print(by_region.round(2))

# Step 4: Best-selling products by units and revenue
by_product = df.groupby("product").agg(units=("units", "sum"), revenue=("revenue", "sum"))
by_product["share_%"] = (100 * by_product["revenue"] / by_product["revenue"].sum()).round(1)
print("\nProducts ranked by revenue:")
print(by_product.sort_values("revenue", ascending=False))

# Step 5: Monthly pivot table (region x month)
df["month"] = df["date"].dt.to_period("M").astype(str)
pivot = df.pivot_table(index="month", columns="region", values="revenue", aggfunc="sum")
print("\nMonthly revenue (first 4 months):")
print(pivot.head(4).round(0))

# Step 6: Plot the monthly trend
ax = pivot.plot(figsize=(10, 5), marker="o", title="Monthly revenue by region")
ax.set_ylabel("Revenue ($)")
plt.tight_layout()
plt.savefig("monthly_revenue.png")
print("\nSaved plot to monthly_revenue.png")

# Summary
best_month = pivot.sum(axis=1).idxmax()
print(f"\nTotal revenue: ${df['revenue'].sum():,.2f}")
print(f"Best region: {by_region.index[0]}, best month: {best_month}")
