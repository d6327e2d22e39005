# expect: ok
# Portfolio optimisation by Monte Carlo: sample random weightings of five assets, compute
# expected return, volatility and Sharpe ratio, and plot the efficient frontier.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

ASSETS = ["Stocks", "Bonds", "Gold", "REITs", "Cash"]
RISK_FREE = 0.02

# Step 1: Simulate 10 years of monthly returns with a realistic correlation structure
rng = np.random.default_rng(99)
mean = np.array([0.007, 0.003, 0.004, 0.006, 0.0015])
vol = np.array([0.045, 0.015, 0.04, 0.055, 0.002])
corr = np.array([
    [1.0, -0.2, 0.1, 0.7, 0.0],
    [-0.2, 1.0, 0.3, 0.0, 0.1],
    [0.1, 0.3, 1.0, 0.1, 0.0],
    [0.7, 0.0, 0.1, 1.0, 0.0],
    [0.0, 0.1, 0.0, 0.0, 1.0],
])
cov = np.outer(vol, vol) * corr
monthly = pd.DataFrame(rng.multivariate_normal(mean, cov, size=120), columns=ASSETS)
monthly.to_csv("monthly_returns.csv", index=False)
monthly = pd.read_csv("monthly_returns.csv")
print("Annualised mean returns:")
print((monthly.mean() * 12).round(4))

# Step 2: Annualised statistics
mu = monthly.mean().to_numpy() * 12
sigma = monthly.cov().to_numpy() * 12

# Step 3: Random portfolios
n_portfolios = 200_000
weights = rng.dirichlet(np.ones(len(ASSETS)), n_portfolios)
port_ret = weights @ mu
port_vol = np.sqrt(np.einsum("ij,jk,ik->i", weights, sigma, weights))
sharpe = (port_ret - RISK_FREE) / port_vol
print(f"\nSimulated {n_portfolios:,} portfolios")

# Step 4: Best portfolios
best = sharpe.argmax()
min_vol = port_vol.argmin()
for label, i in [("Max Sharpe", best), ("Min volatility", min_vol)]:
    alloc = ", ".join(f"{a} {w:.0%}" for a, w in zip(ASSETS, weights[i]))
    print(f"{label:>15}: return {port_ret[i]:.2%}, vol {port_vol[i]:.2%}, sharpe {sharpe[i]:.2f}")
    print(f"{'':>15}  {alloc}")

# Step 5: Plot the cloud and the two portfolios
plt.figure(figsize=(8, 5))
plt.scatter(port_vol[::20], port_ret[::20], c=sharpe[::20], s=2, cmap="viridis")
plt.scatter(port_vol[best], port_ret[best], marker="*", s=250, c="red", label="max Sharpe")
plt.scatter(port_vol[min_vol], port_ret[min_vol], marker="*", s=250, c="blue", label="min vol")
plt.colorbar(label="Sharpe ratio")
plt.xlabel("volatility")
plt.ylabel("expected return")
plt.legend()
plt.savefig("efficient_frontier.png")
print("\nSaved efficient_frontier.png")
