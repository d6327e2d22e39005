# expect: ok
# Forecast weekly sales with simple methods (naive, moving average, Holt's linear trend)
# and compare them on a hold-out period.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt


def holt_forecast(series, alpha, beta, horizon):
    level, trend = series[0], series[1] - series[0]
    for value in series[1:]:
        prev_level = level
        level = alpha * value + (1 - alpha) * (level + trend)
        trend = beta * (level - prev_level) + (1 - beta) * trend
    return np.array([level + (h + 1) * trend for h in range(horizon)])


def mape(actual, forecast):
    return float(np.mean(np.abs((actual - forecast) / actual)) * 100)


# Step 1: Simulate three years of weekly sales
rng = np.random.default_rng(15)
weeks = pd.date_range("2021-01-03", periods=156, freq="W")
t = np.arange(len(weeks))
sales = 1_000 + 4 * t + 120 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 40, len(t))
pd.DataFrame({"week": weeks, "sales": sales.round()}).to_csv("weekly_sales.csv", index=False)
df = pd.read_csv("weekly_sales.csv", parse_dates=["week"], index_col="week")
print(df.describe().round(1))

# Step 2: Train / test split (last 12 weeks held out)
train, test = df["sales"].iloc[:-12], df["sales"].iloc[-12:]
print(f"Train weeks: {len(train)}, test weeks: {len(test)}")

# Step 3: Grid search Holt's parameters on the training data (one-step-ahead errors)
best = None
for alpha in np.linspace(0.05, 0.95, 19):
    for beta in np.linspace(0.01, 0.5, 15):
        errors = [abs(holt_forecast(train.to_numpy()[:i], alpha, beta, 1)[0] - train.iloc[i])
                  for i in range(104, len(train))]
        score = np.mean(errors)
        if best is None or score < best[0]:
            best = (score, alpha, beta)
print(f"Best alpha={best[1]:.2f}, beta={best[2]:.2f} (MAE {best[0]:.1f})")

# Step 4: Compare forecasts on the test weeks
forecasts = {
    "naive": np.repeat(train.iloc[-1], 12),
    "moving avg (8w)": np.repeat(train.iloc[-8:].mean(), 12),
    "holt": holt_forecast(train.to_numpy(), best[1], best[2], 12),
}
for name, fc in forecasts.items():
    print(f"{name:>16}: MAPE {mape(test.to_numpy(), fc):5.2f}%")

# Step 5: Plot
plt.figure(figsize=(10, 4))
plt.plot(df.index, df["sales"], label="actual")
for name, fc in forecasts.items():
    plt.plot(test.index, fc, "--", label=name)
plt.legend()
plt.title("Weekly sales forecast")
plt.show()
