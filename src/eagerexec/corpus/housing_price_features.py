# expect: error AttributeError line 31
# Feature engineering for a house price model: derived features, log transforms and
# correlations with the sale price.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

# Step 1: Simulate listings
rng = np.random.default_rng(77)
n = 80_000
listings = pd.DataFrame({
    "sqft": rng.normal(1800, 600, n).clip(400).round(),
    "bedrooms": rng.integers(1, 6, n),
    "bathrooms": rng.integers(1, 4, n),
    "year_built": rng.integers(1900, 2023, n),
    "lot_size": rng.lognormal(8.5, 0.6, n).round(),
    "neighborhood": rng.choice(["Downtown", "Riverside", "Hillcrest", "Oakwood", "Maple"], n),
})
premium = listings["neighborhood"].map({"Downtown": 1.4, "Riverside": 1.2, "Hillcrest": 1.1, "Oakwood": 1.0, "Maple": 0.9})
listings["price"] = (120 * listings["sqft"] * premium + 5_000 * listings["bathrooms"]
                     - 400 * (2023 - listings["year_built"]) + rng.normal(0, 30_000, n)).round(-2)
listings.to_csv("listings.csv", index=False)
print(f"Generated {n:,} listings")

# Step 2: Basic cleaning
df = pd.read_csv("listings.csv")
df = df[df["price"] > 0]
print(df.describe().round(1))

# Step 3: Derived features
df["age"] = (2023 - df["year_built"]).astype(np.float)
df["price_per_sqft"] = df["price"] / df["sqft"]
df["log_lot"] = np.log(df["lot_size"])
df["rooms"] = df["bedrooms"] + df["bathrooms"]

# Step 4: Correlations with price
corr = df.select_dtypes("number").corr()["price"].sort_values(ascending=False)
print("\nCorrelation with price:")
print(corr.round(3))

# Step 5: Neighbourhood price per square foot
print(df.groupby("neighborhood")["price_per_sqft"].median().sort_values().round(1))
df.plot.scatter(x="sqft", y="price", s=1, alpha=0.2)
plt.savefig("price_vs_sqft.png")
