# expect: ok
# Principal component analysis with NumPy's eigendecomposition on a synthetic
# wine-quality-like dataset: explained variance, loadings and a 2-D projection.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

FEATURES = ["acidity", "sugar", "chlorides", "sulfur", "density", "ph", "sulphates", "alcohol"]

# Step 1: Create correlated features from three hidden factors
rng = np.random.default_rng(8)
n = 20_000
factors = rng.normal(size=(n, 3))
loadings_true = rng.normal(size=(3, len(FEATURES)))
X = factors @ loadings_true + 0.5 * rng.normal(size=(n, len(FEATURES)))
data = pd.DataFrame(X * 3 + 10, columns=FEATURES)
data["quality"] = np.digitize(factors[:, 0], [-1, 0, 1]) + 4
data.to_csv("wine.csv", index=False)
data = pd.read_csv("wine.csv")
print(data.describe().T[["mean", "std"]].round(2))

# Step 2: Standardise
Z = (data[FEATURES] - data[FEATURES].mean()) / data[FEATURES].std()

# Step 3: Eigendecomposition of the covariance matrix
cov = np.cov(Z.to_numpy(), rowvar=False)
eigvals, eigvecs = np.linalg.eigh(cov)
order = np.argsort(eigvals)[::-1]
eigvals, eigvecs = eigvals[order], eigvecs[:, order]
explained = eigvals / eigvals.sum()
print("\nExplained variance ratio:", np.round(explained, 3))
print("Cumulative:", np.round(np.cumsum(explained), 3))
n_keep = int(np.searchsorted(np.cumsum(explained), 0.9) + 1)
print(f"Components needed for 90% of the variance: {n_keep}")

# Step 4: Loadings of the first two components
loadings = pd.DataFrame(eigvecs[:, :2], index=FEATURES, columns=["PC1", "PC2"])
print("\nLoadings:")
print(loadings.round(3))

# Step 5: Check against SVD and project
_, s, _ = np.linalg.svd(Z.to_numpy(), full_matrices=False)
print("SVD agrees:", np.allclose(np.sort(s**2 / (n - 1))[::-1], eigvals))
projected = Z.to_numpy() @ eigvecs[:, :2]
plt.scatter(projected[:, 0], projected[:, 1], c=data["quality"], s=2, cmap="coolwarm")
plt.xlabel("PC1")
plt.ylabel("PC2")
plt.colorbar(label="quality")
plt.savefig("pca_projection.png")
print("Projection plot saved")
