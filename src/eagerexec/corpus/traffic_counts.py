# expect: ok
# Traffic counter analysis for five city intersections: hourly profiles, weekday vs
# weekend, rush-hour peaks and a small-multiples chart shown at the end.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

INTERSECTIONS = ["Main & 1st", "Main & 5th", "Oak & Pine", "Harbor Rd", "Station Sq"]

# Step 1: Simulate 15-minute vehicle counts for 8 weeks
rng = np.random.default_rng(71)
ts = pd.date_range("2024-09-02", periods=8 * 7 * 96, freq="15min")
hours = ts.hour + ts.minute / 60
weekend = ts.day_of_week >= 5
frames = []
for i, name in enumerate(INTERSECTIONS):
    base = 40 + 15 * i
    profile = (np.exp(-((hours - 8) ** 2) / 1.5) + 0.9 * np.exp(-((hours - 17.5) ** 2) / 2) + 0.25)
    profile = np.where(weekend, 0.6 * np.exp(-((hours - 13) ** 2) / 8) + 0.2, profile)
    counts = rng.poisson(base * profile)
    frames.append(pd.DataFrame({"timestamp": ts, "intersection": name, "vehicles": counts}))
traffic = pd.concat(frames, ignore_index=True)
traffic.to_csv("traffic_counts.csv", index=False)
print(f"{len(traffic):,} rows written")

# Step 2: Load and add calendar features
traffic = pd.read_csv("traffic_counts.csv", parse_dates=["timestamp"])
traffic["hour"] = traffic["timestamp"].dt.hour
traffic["weekend"] = traffic["timestamp"].dt.day_of_week >= 5

# Step 3: Daily totals per intersection
daily = traffic.groupby(["intersection", traffic["timestamp"].dt.date])["vehicles"].sum()
print(daily.groupby("intersection").agg(["mean", "min", "max"]).round(0))

# Step 4: Rush-hour peaks on weekdays
hourly = traffic[~traffic["weekend"]].groupby(["intersection", "hour"])["vehicles"].mean().unstack(0)
print("\nPeak weekday hour per intersection:")
print(hourly.idxmax())
morning = hourly.loc[7:9].sum() / hourly.sum()
print("\nShare of weekday traffic between 7 and 10 am:")
print(morning.map("{:.1%}".format))

# Step 5: Weekday vs weekend volume
ratio = traffic.groupby(["intersection", "weekend"])["vehicles"].mean().unstack()
ratio["weekend/weekday"] = ratio[True] / ratio[False]
print(ratio.round(2))

# Step 6: Small multiples
fig, axes = plt.subplots(1, len(INTERSECTIONS), figsize=(16, 3), sharey=True)
for ax, name in zip(axes, INTERSECTIONS):
    ax.plot(hourly.index, hourly[name])
    ax.set_title(name, fontsize=9)
plt.tight_layout()
plt.show()
