# expect: error AttributeError line 42
# Hyper-parameter sweep for a toy ridge regression: evaluate every (alpha, degree) pair
# with k-fold cross-validation and collect the scores into a DataFrame.
import itertools

import numpy as np
import pandas as pd


def make_data(n=400, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    y = 0.5 * x**3 - x**2 + 2 * x + rng.normal(0, 3, n)
    return x, y


def ridge_fit(X, y, alpha):
    n_features = X.shape[1]
    return np.linalg.solve(X.T @ X + alpha * np.eye(n_features), X.T @ y)


def cv_score(x, y, degree, alpha, k=5):
    folds = np.array_split(np.arange(len(x)), k)
    X = np.vander(x, degree + 1)
    errors = []
    for fold in folds:
        train = np.setdiff1d(np.arange(len(x)), fold)
        w = ridge_fit(X[train], y[train], alpha)
        errors.append(np.mean((X[fold] @ w - y[fold]) ** 2))
    return float(np.mean(errors))


# Step 1: Data and parameter grid
x, y = make_data()
grid = list(itertools.product([0.01, 0.1, 1.0, 10.0, 100.0], range(1, 9)))
print(f"Evaluating {len(grid)} configurations")

# Step 2: Run the sweep and store results
results = pd.DataFrame(columns=["alpha", "degree", "mse"])
for alpha, degree in grid:
    mse = cv_score(x, y, degree, alpha)
    results = results.append({"alpha": alpha, "degree": degree, "mse": mse}, ignore_index=True)
print(results.head())

# Step 3: Best configuration
best = results.loc[results["mse"].idxmin()]
print(f"Best: alpha={best['alpha']}, degree={int(best['degree'])}, mse={best['mse']:.3f}")

# Step 4: MSE table
table = results.pivot(index="degree", columns="alpha", values="mse")
print(table.round(2))

# Step 5: Refit the best configuration on all data and inspect the coefficients
degree, alpha = int(best["degree"]), best["alpha"]
X_full = np.vander(x, degree + 1)
weights = ridge_fit(X_full, y, alpha)
print("Coefficients (highest power first):", np.round(weights, 3))
residuals = y - X_full @ weights
print(f"Training RMSE: {np.sqrt(np.mean(residuals**2)):.3f}")
