# expect: ok
"""
Coffee chain sales analysis.

Simulates three years of sales for twenty-four stores (daily totals and individual tickets),
then follows the trend with rolling statistics, ranks stores and regions, finds the
busiest hours and best-selling drinks, and saves a chart.
"""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# Step 1: Simulate daily revenue for every store (a random walk with seasonality)
rng = np.random.default_rng(2024)
days = pd.date_range("2022-01-01", "2024-12-31", freq="D")
stores = pd.DataFrame({
    "store": [f"Store {i:02d}" for i in range(1, 25)],
    "region": np.repeat(["North", "South", "East", "West"], 6),
    "base": rng.uniform(800, 1600, 24).round(),
})
rows = []
for store in stores.itertuples():
    level = store.base
    for day in days:
        level *= 1 + rng.normal(0.0004, 0.01)
        weekend = 1.25 if day.day_of_week >= 5 else 1.0
        season = 1 + 0.15 * np.sin(2 * np.pi * day.day_of_year / 365)
        rows.append((day, store.store, level * weekend * season * rng.lognormal(0, 0.08)))
sales = pd.DataFrame(rows, columns=["date", "store", "revenue"])
sales.to_csv("sales.csv", index=False)
print(f"Simulated {len(sales):,} store-days of sales")

# Step 2: Load the data back and attach the store metadata
sales = pd.read_csv("sales.csv", parse_dates=["date"]).merge(stores[["store", "region"]], on="store")
print(sales.head())

# Step 3: Chain-wide trend and per-store volatility (28-day rolling windows)
daily = sales.groupby("date")["revenue"].sum()
trend = daily.rolling(28, center=True).mean().dropna()
print(f"\nAverage daily revenue: ${daily.mean():,.0f}")
print(f"Trend growth over three years: {trend.iloc[-1] / trend.iloc[0] - 1:.1%}")
sales["volatility"] = sales.groupby("store")["revenue"].transform(
    lambda s: s.rolling(28).apply(lambda w: np.std(np.diff(np.log(w))), raw=True)
)
print("Most volatile stores:", ", ".join(sales.groupby("store")["volatility"].mean().nlargest(3).index))

# Step 4: Store ranking with year-over-year growth
sales["year"] = sales["date"].dt.year
yearly = sales.pivot_table(index="store", columns="year", values="revenue", aggfunc="sum")
yearly["yoy_growth"] = yearly[2024] / yearly[2023] - 1
print("\nTop 5 stores by 2024 revenue:")
print(yearly.sort_values(2024, ascending=False).head(5).round(3))

# Step 5: Region report
region = sales.groupby("region").agg(revenue=("revenue", "sum"), stores=("store", "nunique"))
region["per_store"] = region["revenue"] / region["stores"]
region["share"] = region["revenue"] / region["revenue"].sum()
print("\nRevenue by region:")
print(region.sort_values("revenue", ascending=False).round(2))

# Step 6: Individual tickets: busiest hour and best-selling drinks
menu = pd.Series({"espresso": 2.8, "latte": 4.6, "cappuccino": 4.2, "cold brew": 4.9, "tea": 3.1})
n_tickets = (sales["revenue"] / 18).round().astype(int)  # a 25% sample of ~$4.50 tickets
tickets = pd.DataFrame({
    "date": np.repeat(sales["date"].to_numpy(), n_tickets),
    "hour": np.clip(rng.normal(11, 3.2, n_tickets.sum()).round(), 6, 20).astype(int),
    "drink": rng.choice(menu.index, n_tickets.sum(), p=[0.2, 0.3, 0.2, 0.15, 0.15]),
})
tickets["price"] = tickets["drink"].map(menu)
print(f"\n{len(tickets):,} tickets; busiest hour: {tickets['hour'].value_counts().idxmax()}:00")
print(tickets.groupby("drink")["price"].agg(["count", "sum"]).sort_values("sum", ascending=False))

# Step 7: Best day of the week
by_weekday = sales.groupby(sales["date"].dt.day_name())["revenue"].mean()
print(f"\nBest weekday: {by_weekday.idxmax()} (${by_weekday.max():,.0f} per store on average)")

# Step 8: Plot the daily revenue with its rolling trend
fig, ax = plt.subplots(figsize=(10, 4))
ax.plot(daily.index, daily, lw=0.5, alpha=0.5, label="daily revenue")
ax.plot(trend.index, trend, lw=2, label="28-day average")
ax.set_title("Coffee chain: daily revenue")
ax.set_ylabel("revenue ($)")
ax.legend()
fig.tight_layout()
fig.savefig("revenue_trend.png", dpi=100)
print("\nChart saved to revenue_trend.png")
