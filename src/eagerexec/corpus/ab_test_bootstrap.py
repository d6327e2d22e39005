# expect: ok
# A/B test analysis for a checkout redesign: conversion rates, a two-proportion z-test
# and bootstrap confidence intervals for the lift in revenue per visitor.
import math

import numpy as np
import pandas as pd

# Step 1: Simulate the experiment log
rng = np.random.default_rng(5)
n = 60_000
group = rng.choice(["control", "treatment"], n)
p_convert = np.where(group == "treatment", 0.054, 0.048)
converted = rng.random(n) < p_convert
revenue = np.where(converted, rng.lognormal(3.6, 0.5, n), 0.0)
log = pd.DataFrame({"visitor": np.arange(n), "group": group, "converted": converted, "revenue": revenue.round(2)})
log.to_csv("ab_test.csv", index=False)

# Step 2: Conversion summary
log = pd.read_csv("ab_test.csv")
summary = log.groupby("group").agg(visitors=("visitor", "count"), conversions=("converted", "sum"),
                                   revenue=("revenue", "sum"))
summary["conv_rate"] = summary["conversions"] / summary["visitors"]
summary["rev_per_visitor"] = summary["revenue"] / summary["visitors"]
print(summary.round(4))

# Step 3: Two-proportion z-test
c, t = summary.loc["control"], summary.loc["treatment"]
pooled = (c["conversions"] + t["conversions"]) / (c["visitors"] + t["visitors"])
se = math.sqrt(pooled * (1 - pooled) * (1 / c["visitors"] + 1 / t["visitors"]))
z = (t["conv_rate"] - c["conv_rate"]) / se
p_value = math.erfc(abs(z) / math.sqrt(2))
print(f"\nz = {z:.3f}, two-sided p = {p_value:.4f}")

# Step 4: Bootstrap the lift in revenue per visitor (slow part)
ctrl = log.loc[log["group"] == "control", "revenue"].to_numpy()
treat = log.loc[log["group"] == "treatment", "revenue"].to_numpy()
lifts = []
for _ in range(1_000):
    a = rng.choice(ctrl, len(ctrl)).mean()
    b = rng.choice(treat, len(treat)).mean()
    lifts.append(b / a - 1)
low, high = np.percentile(lifts, [2.5, 97.5])
print(f"Revenue/visitor lift: {treat.mean() / ctrl.mean() - 1:.2%} (95% CI {low:.2%} to {high:.2%})")

# Step 5: Decision
significant = p_value < 0.05 and low > 0
print("\nDecision:", "ship the redesign" if significant else "keep testing")
