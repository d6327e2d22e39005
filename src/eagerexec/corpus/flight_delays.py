# expect: ok
# Flight delay analysis: on-time performance by airline and airport, delay causes,
# the worst routes and hour-of-day effects, on a large simulated flight table.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

# Step 1: Simulate 300,000 flights
rng = np.random.default_rng(2020)
n = 300_000
airlines = pd.DataFrame({"carrier": ["AA", "DL", "UA", "WN", "B6", "AS"],
                         "airline": ["American", "Delta", "United", "Southwest", "JetBlue", "Alaska"],
                         "reliability": [1.0, 0.8, 1.1, 0.95, 1.3, 0.7]})
airports = ["ATL", "ORD", "DFW", "DEN", "LAX", "JFK", "SFO", "SEA", "BOS", "MIA"]
flights = pd.DataFrame({
    "carrier": rng.choice(airlines["carrier"], n),
    "origin": rng.choice(airports, n),
    "dest": rng.choice(airports, n),
    "dep_hour": rng.integers(5, 24, n),
    "month": rng.integers(1, 13, n),
})
flights = flights[flights["origin"] != flights["dest"]].reset_index(drop=True)
factor = flights["carrier"].map(dict(zip(airlines["carrier"], airlines["reliability"])))
flights["dep_delay"] = (rng.exponential(12, len(flights)) * factor + flights["dep_hour"] * 0.8 - 10).round()
flights["cause"] = rng.choice(["carrier", "weather", "nas", "late_aircraft"], len(flights), p=[0.3, 0.1, 0.25, 0.35])
flights.to_csv("flights.csv", index=False)
print(f"{len(flights):,} flights written")

# Step 2: Load and join airline names
flights = pd.read_csv("flights.csv").merge(airlines[["carrier", "airline"]], on="carrier")
flights["delayed"] = flights["dep_delay"] > 15

# Step 3: On-time performance by airline
perf = flights.groupby("airline").agg(flights=("delayed", "size"), delayed_share=("delayed", "mean"),
                                      mean_delay=("dep_delay", "mean"))
print(perf.sort_values("delayed_share").round(3))

# Step 4: Worst routes (at least 2,000 flights)
routes = flights.groupby(["origin", "dest"]).agg(flights=("delayed", "size"), delayed_share=("delayed", "mean"))
print("\nWorst routes:")
print(routes[routes["flights"] >= 2_000].nlargest(5, "delayed_share").round(3))

# Step 5: Delay causes for delayed flights
causes = flights[flights["delayed"]].groupby("cause")["dep_delay"].agg(["count", "mean"])
print("\nDelay causes:")
print(causes.round(1))

# Step 6: Delay by departure hour
by_hour = flights.groupby("dep_hour")["delayed"].mean()
by_hour.plot(kind="bar", figsize=(10, 4), title="Share of delayed departures by hour")
plt.ylabel("share delayed")
plt.savefig("delays_by_hour.png")
print(f"\nWorst hour: {by_hour.idxmax()}:00 ({by_hour.max():.1%} delayed)")
