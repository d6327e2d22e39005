# expect: ok
# Estimate pi with Monte Carlo sampling: first a plain Python loop, then a vectorised NumPy
# version, and compare accuracy as the number of samples grows.
import math
import random

import numpy as np
import matplotlib.pyplot as plt


def estimate_pi_loop(n, seed=0):
    rnd = random.Random(seed)
    inside = 0
    for _ in range(n):
        x, y = rnd.random(), rnd.random()
        if x * x + y * y <= 1.0:
            inside += 1
    return 4 * inside / n


def estimate_pi_numpy(n, rng):
    pts = rng.random((n, 2))
    return 4 * np.count_nonzero((pts**2).sum(axis=1) <= 1.0) / n


# Step 1: Pure Python estimate (slow)
loop_estimate = estimate_pi_loop(1_500_000)
print(f"Loop estimate:  {loop_estimate:.6f} (error {abs(loop_estimate - math.pi):.2e})")

# Step 2: Vectorised estimate with many more samples
rng = np.random.default_rng(2024)
np_estimate = estimate_pi_numpy(5_000_000, rng)
print(f"NumPy estimate: {np_estimate:.6f} (error {abs(np_estimate - math.pi):.2e})")

# Step 3: Convergence study
sizes = [10**k for k in range(2, 7)]
errors = []
for n in sizes:
    trials = [estimate_pi_numpy(n, rng) for _ in range(20)]
    errors.append(np.mean(np.abs(np.array(trials) - math.pi)))
    print(f"n={n:>8d}  mean abs error={errors[-1]:.5f}")

# Step 4: Check the 1/sqrt(n) convergence rate with a log-log fit
slope, intercept = np.polyfit(np.log10(sizes), np.log10(errors), 1)
print(f"\nFitted convergence slope: {slope:.2f} (theory: -0.5)")

# Step 5: Plot
plt.figure(figsize=(6, 4))
plt.loglog(sizes, errors, "o-", label="observed")
plt.loglog(sizes, [errors[0] * (sizes[0] / n) ** 0.5 for n in sizes], "--", label="1/sqrt(n)")
plt.xlabel("samples")
plt.ylabel("mean absolute error")
plt.legend()
plt.savefig("pi_convergence.png")
print("Plot saved as pi_convergence.png")
