# expect: ok
# Household energy consumption: hourly smart-meter data resampled to daily and weekly
# totals, peak-hour analysis, tariff comparison and a weekday/hour heat map.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

# Step 1: Simulate one year of hourly readings (kWh)
rng = np.random.default_rng(60)
idx = pd.date_range("2023-01-01", "2023-12-31 23:00", freq="h")
hour = idx.hour.to_numpy()
daily_shape = 0.3 + 0.5 * np.exp(-((hour - 8) ** 2) / 4) + 0.9 * np.exp(-((hour - 19) ** 2) / 6)
season = 1 + 0.35 * np.cos(2 * np.pi * (idx.day_of_year.to_numpy() - 15) / 365)
kwh = daily_shape * season * rng.lognormal(0, 0.25, len(idx))
meter = pd.DataFrame({"timestamp": idx, "kwh": kwh.round(3)})
meter.to_csv("meter.csv", index=False)
meter = pd.read_csv("meter.csv", parse_dates=["timestamp"], index_col="timestamp")
print(f"{len(meter)} hourly readings, total {meter['kwh'].sum():,.0f} kWh")

# Step 2: Daily and weekly totals
daily = meter["kwh"].resample("D").sum()
weekly = meter["kwh"].resample("W").sum()
print(f"Average day: {daily.mean():.2f} kWh; highest day {daily.idxmax().date()} ({daily.max():.1f} kWh)")
print("Five heaviest weeks:")
print(weekly.nlargest(5).round(1))

# Step 3: Peak vs off-peak share
meter["peak"] = meter.index.hour.isin(range(16, 21))
share = meter.groupby("peak")["kwh"].sum() / meter["kwh"].sum()
print(f"\nPeak hours (16-21h) use {share[True]:.1%} of the energy")

# Step 4: Compare two tariffs
flat = meter["kwh"].sum() * 0.28
tou = (meter["kwh"] * np.where(meter["peak"], 0.42, 0.21)).sum()
print(f"Flat tariff: {flat:,.2f}   Time-of-use tariff: {tou:,.2f}")
print("Cheaper:", "time-of-use" if tou < flat else "flat")

# Step 5: Weekday x hour heat map
heat = meter.pivot_table(index=meter.index.day_name(), columns=meter.index.hour, values="kwh", aggfunc="mean")
heat = heat.reindex(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])
plt.figure(figsize=(12, 4))
plt.imshow(heat, aspect="auto", cmap="magma")
plt.yticks(range(7), heat.index)
plt.xlabel("hour of day")
plt.colorbar(label="kWh")
plt.savefig("energy_heatmap.png")
print("Heat map saved")
