# expect: ok
# Data cleaning walkthrough for a messy customer CSV: inconsistent casing, stray whitespace,
# missing values, duplicate rows, bad numbers and mixed date formats.
import numpy as np
import pandas as pd

# Step 1: Write a deliberately messy file
rng = np.random.default_rng(4)
n = 20_000
cities = np.array(["new york", " New York", "NEW YORK ", "boston", "Boston", "chicago", "Chicago  ", None])
raw = pd.DataFrame({
    "id": rng.integers(1, 15_000, n),
    "name": [f"  user{i}  " for i in rng.integers(1, 15_000, n)],
    "city": rng.choice(cities, n),
    "age": rng.choice(["34", "41", "n/a", "", "29", "-1", "57", "200"], n),
    "income": np.where(rng.random(n) < 0.05, np.nan, rng.normal(60_000, 15_000, n).round(0)),
    "joined": rng.choice(["2021-03-04", "04/05/2022", "2020-12-31", "2023-07-15"], n),
})
raw.to_csv("messy_customers.csv", index=False)
print("Raw shape:", raw.shape)

# Step 2: Load and inspect
df = pd.read_csv("messy_customers.csv", dtype={"age": "string"})
print(df.head())
print("\nNulls:\n", df.isna().sum())

# Step 3: Normalise text columns
df["name"] = df["name"].str.strip()
df["city"] = df["city"].str.strip().str.title().fillna("Unknown")
print("\nCities after cleaning:", sorted(df["city"].unique()))

# Step 4: Parse numbers and dates, flag impossible ages
df["age"] = pd.to_numeric(df["age"], errors="coerce")
df.loc[(df["age"] < 0) | (df["age"] > 120), "age"] = np.nan
df["age"] = df["age"].fillna(df["age"].median())
df["income"] = df["income"].fillna(df.groupby("city")["income"].transform("median"))
df["joined"] = pd.to_datetime(df["joined"], format="mixed")
print("\nAge stats:", df["age"].describe().round(1).to_dict())

# Step 5: Remove duplicates (keep the most recent record per id)
before = len(df)
df = df.sort_values("joined").drop_duplicates(subset="id", keep="last")
print(f"\nRemoved {before - len(df)} duplicate ids")

# Step 6: Save the clean file and report
df.to_csv("clean_customers.csv", index=False)
print(df.groupby("city").agg(customers=("id", "count"), median_income=("income", "median")).round(0))
print(f"\nClean rows: {len(df)}, columns: {list(df.columns)}")
