# expect: error ValueError line 37
# IoT sensor calibration: clean raw readings from 12 sensors, fit a linear calibration
# against a reference instrument and attach the corrected values to the table.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

# Step 1: Simulate raw readings (every 10 seconds for one day, 12 sensors)
rng = np.random.default_rng(31)
timestamps = pd.date_range("2024-02-01", periods=8640, freq="10s")
reference = 20 + 3 * np.sin(np.linspace(0, 2 * np.pi, len(timestamps)))
frames = []
for sensor in range(12):
    gain, offset = rng.normal(1.0, 0.05), rng.normal(0, 0.8)
    raw = gain * reference + offset + rng.normal(0, 0.3, len(timestamps))
    raw[rng.random(len(raw)) < 0.01] = np.nan  # dropped packets
    frames.append(pd.DataFrame({"ts": timestamps, "sensor": f"S{sensor:02d}", "raw": raw, "ref": reference}))
readings = pd.concat(frames, ignore_index=True)
readings.to_csv("sensor_readings.csv", index=False)
print(f"{len(readings):,} readings, {readings['raw'].isna().sum()} missing")

# Step 2: Clean: interpolate gaps per sensor
readings = pd.read_csv("sensor_readings.csv", parse_dates=["ts"])
readings["raw"] = readings.groupby("sensor")["raw"].transform(lambda s: s.interpolate(limit_direction="both"))
print("Missing after interpolation:", readings["raw"].isna().sum())

# Step 3: Fit gain/offset per sensor against the reference
calibration = {}
for sensor, group in readings.groupby("sensor"):
    gain, offset = np.polyfit(group["ref"], group["raw"], 1)
    calibration[sensor] = (gain, offset)
    print(f"{sensor}: gain={gain:.3f} offset={offset:+.3f}")

# Step 4: Apply the calibration
gains = np.array([calibration[s][0] for s in sorted(calibration)])
offsets = np.array([calibration[s][1] for s in sorted(calibration)])
readings["corrected"] = (readings["raw"].to_numpy().reshape(12, -1) - offsets[:, None]) / gains[:, None]
readings["corrected"] = readings["corrected"] - offsets.mean()
print(readings.head())

# Step 5: Error before and after calibration
err = readings.assign(raw_err=(readings["raw"] - readings["ref"]).abs(), cal_err=(readings["corrected"] - readings["ref"]).abs())
print(err.groupby("sensor")[["raw_err", "cal_err"]].mean().round(3))

# Step 6: Plot one sensor
s0 = readings[readings["sensor"] == "S00"]
plt.plot(s0["ts"], s0["raw"], lw=0.5, label="raw")
plt.plot(s0["ts"], s0["corrected"], lw=0.5, label="corrected")
plt.legend()
plt.savefig("calibration_S00.png")
