# expect: ok
# Stock price analysis: simulate daily prices for three tickers with a geometric random
# walk, then compute returns, rolling statistics, drawdowns and a correlation matrix.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt


def simulate_prices(rng, start, mu, sigma, days):
    """Geometric Brownian motion, one step per trading day."""
    shocks = rng.normal((mu - 0.5 * sigma**2) / 252, sigma / np.sqrt(252), days)
    return start * np.exp(np.cumsum(shocks))


def max_drawdown(prices):
    running_max = prices.cummax()
    drawdown = prices / running_max - 1
    return drawdown.min(), drawdown.idxmin()


# Step 1: Simulate five years of prices
rng = np.random.default_rng(7)
days = pd.bdate_range("2019-01-01", periods=1260)
tickers = {"ACME": (120, 0.08, 0.25), "GLOBX": (45, 0.05, 0.18), "INITECH": (300, 0.12, 0.35)}
prices = pd.DataFrame({t: simulate_prices(rng, *params, len(days)) for t, params in tickers.items()}, index=days)
prices.to_csv("prices.csv")
prices = pd.read_csv("prices.csv", index_col=0, parse_dates=True)
print("Price data:", prices.shape)
print(prices.tail(3).round(2))

# Step 2: Daily returns and summary statistics
returns = prices.pct_change().dropna()
summary = pd.DataFrame({
    "annual_return": returns.mean() * 252,
    "annual_vol": returns.std() * np.sqrt(252),
})
summary["sharpe"] = summary["annual_return"] / summary["annual_vol"]
print("\nAnnualised statistics:")
print(summary.round(3))

# Step 3: Rolling 60-day volatility and a slow custom rolling metric
rolling_vol = returns.rolling(60).std() * np.sqrt(252)
rolling_skew = returns["ACME"].rolling(120).apply(lambda w: ((w - w.mean()) ** 3).mean() / w.std() ** 3, raw=True)
print("\nLatest 60-day volatility:")
print(rolling_vol.iloc[-1].round(3))
print(f"ACME 120-day skew (last): {rolling_skew.iloc[-1]:.3f}")

# Step 4: Drawdowns
for ticker in prices.columns:
    dd, when = max_drawdown(prices[ticker])
    print(f"{ticker:8s} max drawdown {dd:7.2%} on {when.date()}")

# Step 5: Correlation of returns
print("\nCorrelation matrix:")
print(returns.corr().round(3))

# Step 6: Plot normalised prices and rolling volatility
fig, axes = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
(prices / prices.iloc[0]).plot(ax=axes[0], title="Normalised prices")
rolling_vol.plot(ax=axes[1], title="60-day rolling volatility")
plt.tight_layout()
plt.savefig("stocks.png", dpi=100)
print("\nSaved stocks.png")
