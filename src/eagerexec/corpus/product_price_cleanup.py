# expect: error ValueError line 37
"""
E-commerce catalogue scrape cleanup: parse prices and ratings that were scraped as
text, compute discounts, and rank categories by average rating.
"""
import json
import random

import numpy as np
import pandas as pd

# Step 1: Build a fake scraped catalogue (JSON lines)
rnd = random.Random(6)
categories = ["Audio", "Cameras", "Phones", "Laptops", "Wearables"]
with open("catalogue.jsonl", "w") as fh:
    for i in range(25_000):
        price = round(rnd.uniform(15, 2500), 2)
        record = {
            "sku": f"P{i:06d}",
            "title": f"{rnd.choice(categories)} item {i}",
            "category": rnd.choice(categories),
            "price": f"${price:,.2f}",
            "list_price": f"${price * rnd.uniform(1.0, 1.4):,.2f}",
            "rating": f"{rnd.uniform(1, 5):.1f} out of 5 stars",
            "reviews": str(rnd.randint(0, 5000)),
        }
        fh.write(json.dumps(record) + "\n")

# Step 2: Load into a DataFrame
df = pd.read_json("catalogue.jsonl", lines=True)
print(df.head())
print(df.dtypes)

# Step 3: Convert the text columns to numbers
df["rating"] = df["rating"].str.split().str[0].astype(float)
df["reviews"] = df["reviews"].astype(int)
df["price"] = df["price"].str.replace("$", "", regex=False).astype(float)
df["list_price"] = df["list_price"].str.replace("$", "", regex=False).astype(float)
df["discount"] = 1 - df["price"] / df["list_price"]
print(df[["price", "list_price", "discount"]].describe().round(2))

# Step 4: Category ranking weighted by number of reviews
df["weighted"] = df["rating"] * df["reviews"]
ranking = df.groupby("category").agg(products=("sku", "count"), weighted=("weighted", "sum"),
                                     reviews=("reviews", "sum"))
ranking["avg_rating"] = ranking["weighted"] / ranking["reviews"]
print(ranking.sort_values("avg_rating", ascending=False).round(3))

# Step 5: Best deals with many reviews
deals = df[(df["reviews"] > 1000) & (df["discount"] > 0.25)].nlargest(10, "discount")
print(deals[["sku", "category", "price", "discount", "rating"]])
print("Median price:", np.median(df["price"]))
