# expect: ok
# K-means clustering implemented from scratch with NumPy, with k chosen by the elbow method.
import numpy as np
import matplotlib.pyplot as plt


def kmeans(X, k, rng, n_iter=100, tol=1e-6):
    centers = X[rng.choice(len(X), k, replace=False)]
    for _ in range(n_iter):
        dists = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        labels = dists.argmin(axis=1)
        new_centers = np.array([X[labels == j].mean(axis=0) if np.any(labels == j) else centers[j] for j in range(k)])
        if np.abs(new_centers - centers).max() < tol:
            break
        centers = new_centers
    inertia = ((X - centers[labels]) ** 2).sum()
    return centers, labels, inertia


def best_of(X, k, rng, restarts=5):
    return min((kmeans(X, k, rng) for _ in range(restarts)), key=lambda r: r[2])


# Step 1: Generate four Gaussian blobs
rng = np.random.default_rng(10)
true_centers = np.array([[0, 0], [6, 1], [2, 7], [8, 8]])
X = np.vstack([rng.normal(c, 1.1, size=(2_500, 2)) for c in true_centers])
np.savetxt("points.csv", X, delimiter=",", fmt="%.5f")
X = np.loadtxt("points.csv", delimiter=",")
print("Data:", X.shape)

# Step 2: Elbow method
inertias = {}
for k in range(1, 8):
    inertias[k] = best_of(X, k, rng)[2]
    print(f"k={k}: inertia={inertias[k]:,.0f}")
drops = {k: inertias[k - 1] - inertias[k] for k in range(2, 8)}
print("Largest improvements at k =", sorted(drops, key=drops.get, reverse=True)[:3])

# Step 3: Final model with k=4
centers, labels, inertia = best_of(X, 4, rng)
order = np.lexsort((centers[:, 1], centers[:, 0]))
print("\nCluster centers:\n", np.round(centers[order], 2))
print("Cluster sizes:", np.bincount(labels, minlength=4)[order])

# Step 4: Plot
plt.figure(figsize=(6, 6))
plt.scatter(X[:, 0], X[:, 1], c=labels, s=3, cmap="tab10")
plt.scatter(centers[:, 0], centers[:, 1], c="black", marker="x", s=100)
plt.title("K-means (k=4)")
plt.savefig("kmeans.png")
print("Saved kmeans.png")
