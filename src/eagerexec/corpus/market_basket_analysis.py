# expect: ok
"""
Market basket analysis with the standard library: item frequencies, frequent pairs,
and association rules (support, confidence, lift) from simulated shopping baskets.
"""
import csv
import itertools
import random
from collections import Counter

ITEMS = ["bread", "milk", "eggs", "butter", "cheese", "apples", "bananas", "coffee",
         "tea", "pasta", "tomato sauce", "rice", "chicken", "beer", "chips"]
AFFINITY = [("bread", "butter"), ("pasta", "tomato sauce"), ("beer", "chips"), ("coffee", "milk")]

# Step 1: Simulate baskets and write them to CSV (one row per basket)
rnd = random.Random(8)
with open("baskets.csv", "w", newline="") as fh:
    writer = csv.writer(fh)
    for _ in range(50_000):
        basket = set(rnd.sample(ITEMS, rnd.randint(1, 5)))
        for a, b in AFFINITY:
            if a in basket and rnd.random() < 0.6:
                basket.add(b)
        writer.writerow(sorted(basket))

# Step 2: Load baskets
with open("baskets.csv", newline="") as fh:
    baskets = [frozenset(row) for row in csv.reader(fh)]
n = len(baskets)
print(f"{n} baskets, average size {sum(map(len, baskets)) / n:.2f}")

# Step 3: Item support
item_counts = Counter(item for b in baskets for item in b)
print("\nMost frequent items:")
for item, count in item_counts.most_common(5):
    print(f"  {item:<14}{count / n:6.1%}")

# Step 4: Pair counts (the slow part: every pair of every basket)
pair_counts = Counter(pair for b in baskets for pair in itertools.combinations(sorted(b), 2))
print(f"\n{len(pair_counts)} distinct pairs seen")

# Step 5: Association rules
rules = []
for (a, b), count in pair_counts.items():
    for lhs, rhs in ((a, b), (b, a)):
        support = count / n
        confidence = count / item_counts[lhs]
        lift = confidence / (item_counts[rhs] / n)
        if support > 0.01 and lift > 1.2:
            rules.append((lift, lhs, rhs, support, confidence))
rules.sort(reverse=True)
print("\nTop rules:")
for lift, lhs, rhs, support, confidence in rules[:8]:
    print(f"  {lhs:>12} -> {rhs:<13} support {support:.3f}  confidence {confidence:.2f}  lift {lift:.2f}")
