# expect: ok
# Detect temperature anomalies in ten years of simulated daily weather data:
# seasonal climatology, z-scores, monthly resampling and a plot of the flagged days.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

# Step 1: Simulate daily temperatures with seasonality, trend and noise
rng = np.random.default_rng(1234)
days = pd.date_range("2014-01-01", "2023-12-31", freq="D")
doy = days.day_of_year.to_numpy()
seasonal = 11 + 9 * np.sin(2 * np.pi * (doy - 110) / 365.25)
trend = 0.03 * np.arange(len(days)) / 365.25
temps = seasonal + trend + rng.normal(0, 2.5, len(days))
heatwave = (days >= "2019-07-20") & (days <= "2019-07-29")
temps[heatwave] += 9
weather = pd.DataFrame({"date": days, "temp_c": temps.round(1)})
weather.to_csv("weather.csv", index=False)
print(f"Saved {len(weather)} daily observations")

# Step 2: Load and build a day-of-year climatology
weather = pd.read_csv("weather.csv", parse_dates=["date"]).set_index("date")
weather["doy"] = weather.index.day_of_year
climatology = weather.groupby("doy")["temp_c"].agg(["mean", "std"])
weather = weather.join(climatology, on="doy")
weather["z"] = (weather["temp_c"] - weather["mean"]) / weather["std"]
print(weather.head())

# Step 3: Flag anomalies
anomalies = weather[weather["z"].abs() > 2.5]
print(f"\n{len(anomalies)} anomalous days found")
print(anomalies.sort_values("z", ascending=False).head(8)[["temp_c", "mean", "z"]].round(2))

# Step 4: Monthly and yearly statistics
monthly = weather["temp_c"].resample("MS").mean()
yearly = weather["temp_c"].resample("YS").agg(["mean", "min", "max"])
print("\nYearly summary:")
print(yearly.round(2))
slope = np.polyfit(np.arange(len(yearly)), yearly["mean"], 1)[0]
print(f"Warming trend: {slope * 10:.2f} °C per decade")

# Step 5: Plot
fig, ax = plt.subplots(figsize=(12, 4))
ax.plot(weather.index, weather["temp_c"], lw=0.4, color="grey", label="daily")
ax.plot(monthly.index, monthly, color="navy", label="monthly mean")
ax.scatter(anomalies.index, anomalies["temp_c"], color="red", s=8, label="anomaly")
ax.legend()
ax.set_ylabel("°C")
plt.savefig("temperature_anomalies.png", dpi=90)
plt.show()
print("Done.")
