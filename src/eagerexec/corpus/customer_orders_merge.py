# expect: error KeyError line 45
"""
Customer order analysis: join customers with their orders, compute lifetime value per
customer and segment, and list the top spenders.
"""
import numpy as np
import pandas as pd

# Step 1: Create the customers and orders tables
rng = np.random.default_rng(11)
n_customers, n_orders = 5_000, 120_000
customers = pd.DataFrame({
    "customer_id": np.arange(1, n_customers + 1),
    "name": [f"Customer {i:04d}" for i in range(1, n_customers + 1)],
    "segment": rng.choice(["Consumer", "Corporate", "Small Business"], n_customers, p=[0.6, 0.25, 0.15]),
    "signup_year": rng.integers(2015, 2024, n_customers),
})
orders = pd.DataFrame({
    "order_id": np.arange(100_000, 100_000 + n_orders),
    "customer_id": rng.integers(1, n_customers + 1, n_orders),
    "amount": rng.gamma(2.0, 60.0, n_orders).round(2),
    "order_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n_orders), unit="D"),
})
customers.to_csv("customers.csv", index=False)
orders.to_csv("orders.csv", index=False)

# Step 2: Load and merge
customers = pd.read_csv("customers.csv")
orders = pd.read_csv("orders.csv", parse_dates=["order_date"])
merged = orders.merge(customers, on="customer_id", how="left")
print(f"Merged table: {merged.shape[0]:,} rows, {merged.shape[1]} columns")
print(merged.head())

# Step 3: Lifetime value per customer
ltv = merged.groupby(["customer_id", "name", "segment"], as_index=False).agg(
    total_spent=("amount", "sum"),
    n_orders=("order_id", "count"),
    last_order=("order_date", "max"),
)
ltv["avg_order"] = ltv["total_spent"] / ltv["n_orders"]
print("\nLifetime value stats:")
print(ltv[["total_spent", "n_orders", "avg_order"]].describe().round(2))

# Step 4: Top 10 customers by total spend
top10 = ltv.sort_values("total_spent", ascending=False).head(10)[["customer_name", "segment", "total_spent"]]
print("\nTop 10 customers:")
print(top10.to_string(index=False))

# Step 5: Segment summary
segment_summary = ltv.groupby("segment").agg(
    customers=("customer_id", "nunique"),
    revenue=("total_spent", "sum"),
    avg_ltv=("total_spent", "mean"),
)
segment_summary["revenue_share"] = segment_summary["revenue"] / segment_summary["revenue"].sum()
print("\nSegment summary:")
print(segment_summary.round(2))

# Step 6: Customers who have not ordered in the last 90 days
cutoff = merged["order_date"].max() - pd.Timedelta(days=90)
churn_risk = ltv[ltv["last_order"] < cutoff]
print(f"\nCustomers at churn risk: {len(churn_risk)} ({len(churn_risk) / len(ltv):.1%})")
