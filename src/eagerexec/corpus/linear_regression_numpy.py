# expect: ok
"""
Multiple linear regression from scratch with NumPy (no scikit-learn).

We simulate a housing dataset, fit ordinary least squares with the normal equations,
check the result against np.linalg.lstsq, evaluate on a held-out test set and plot
the residuals.
"""
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt


def r_squared(y_true, y_pred):
    ss_res = np.sum((y_true - y_pred) ** 2)
    ss_tot = np.sum((y_true - y_true.mean()) ** 2)
    return 1 - ss_res / ss_tot


def add_intercept(X):
    return np.column_stack([np.ones(len(X)), X])


# Step 1: Simulate the data
rng = np.random.default_rng(0)
n = 50_000
area = rng.normal(120, 35, n).clip(30, None)
rooms = np.round(area / 30 + rng.normal(0, 0.7, n)).clip(1, None)
age = rng.uniform(0, 80, n)
price = 50_000 + 2_100 * area + 8_500 * rooms - 900 * age + rng.normal(0, 25_000, n)
df = pd.DataFrame({"area": area, "rooms": rooms, "age": age, "price": price})
df.to_csv("housing.csv", index=False)
print(pd.read_csv("housing.csv").describe().round(1))

# Step 2: Train/test split
idx = rng.permutation(n)
train, test = idx[: int(0.8 * n)], idx[int(0.8 * n) :]
features = ["area", "rooms", "age"]
X_train, y_train = add_intercept(df.loc[train, features].to_numpy()), df.loc[train, "price"].to_numpy()
X_test, y_test = add_intercept(df.loc[test, features].to_numpy()), df.loc[test, "price"].to_numpy()

# Step 3: Fit with the normal equations and compare with lstsq
beta = np.linalg.solve(X_train.T @ X_train, X_train.T @ y_train)
beta_lstsq, *_ = np.linalg.lstsq(X_train, y_train, rcond=None)
print("\nCoefficients (normal equations):", np.round(beta, 2))
print("Same as lstsq:", np.allclose(beta, beta_lstsq))

# Step 4: Evaluate
pred = X_test @ beta
rmse = np.sqrt(np.mean((y_test - pred) ** 2))
print(f"\nTest R^2: {r_squared(y_test, pred):.4f}")
print(f"Test RMSE: {rmse:,.0f}")

# Step 5: Bootstrap standard errors of the coefficients
boot = []
for _ in range(200):
    sample = rng.integers(0, len(X_train), len(X_train))
    boot.append(np.linalg.lstsq(X_train[sample], y_train[sample], rcond=None)[0])
std_err = np.std(boot, axis=0)
for name, b, se in zip(["intercept", *features], beta, std_err):
    print(f"{name:>10s}: {b:12.2f}  (se {se:8.2f})")

# Step 6: Residual plot
residuals = y_test - pred
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
ax[0].scatter(pred, residuals, s=2, alpha=0.3)
ax[0].axhline(0, color="red")
ax[0].set_title("Residuals vs fitted")
ax[1].hist(residuals, bins=60)
ax[1].set_title("Residual distribution")
plt.savefig("residuals.png")
print("\nResidual plot written to residuals.png")
