# expect: ok
"""
Personal finance tracker: categorise a year of bank transactions, compute running
balances, monthly budgets and recurring payments, using only the standard library.
"""
import csv
import random
from collections import defaultdict
from datetime import date, timedelta

CATEGORIES = {
    "groceries": (-120, -15), "restaurants": (-80, -10), "transport": (-60, -2),
    "utilities": (-150, -40), "entertainment": (-50, -5), "salary": (2900, 3100),
}

# Step 1: Generate transactions for 2023
rnd = random.Random(17)
rows = []
day = date(2023, 1, 1)
while day.year == 2023:
    if day.day == 25:
        rows.append((day, "salary", round(rnd.uniform(*CATEGORIES["salary"]), 2), "ACME Corp"))
    if day.day == 3:
        rows.append((day, "utilities", round(rnd.uniform(*CATEGORIES["utilities"]), 2), "City Power"))
    for _ in range(rnd.randint(0, 4)):
        cat = rnd.choice(["groceries", "restaurants", "transport", "entertainment"])
        rows.append((day, cat, round(rnd.uniform(*CATEGORIES[cat]), 2), f"{cat[:4].upper()}-{rnd.randint(1, 9)}"))
    day += timedelta(days=1)
with open("transactions.csv", "w", newline="") as fh:
    writer = csv.writer(fh)
    writer.writerow(["date", "category", "amount", "merchant"])
    writer.writerows(rows)
print(f"Wrote {len(rows)} transactions")

# Step 2: Read back and compute the running balance
balance, lowest = 1500.0, (None, float("inf"))
monthly = defaultdict(lambda: defaultdict(float))
with open("transactions.csv", newline="") as fh:
    for row in csv.DictReader(fh):
        d = date.fromisoformat(row["date"])
        amount = float(row["amount"])
        balance += amount
        monthly[d.strftime("%Y-%m")][row["category"]] += amount
        if balance < lowest[1]:
            lowest = (d, balance)
print(f"Closing balance: {balance:,.2f}")
print(f"Lowest balance: {lowest[1]:,.2f} on {lowest[0]:%d %b %Y} ({lowest[0]:%A})")

# Step 3: Monthly spending table
print(f"\n{'month':<8}{'income':>10}{'spent':>10}{'saved':>10}")
for month in sorted(monthly):
    income = sum(v for v in monthly[month].values() if v > 0)
    spent = -sum(v for v in monthly[month].values() if v < 0)
    print(f"{month:<8}{income:>10.2f}{spent:>10.2f}{income - spent:>10.2f}")

# Step 4: Days between salary payments and the next quarter's pay dates
salary_days = sorted(date.fromisoformat(r[0].isoformat()) for r in rows if r[1] == "salary")
gaps = [(b - a).days for a, b in zip(salary_days, salary_days[1:])]
print(f"\nDays between paydays: min {min(gaps)}, max {max(gaps)}")
next_paydays = [date(2024, m, 25) for m in (1, 2, 3)]
print("Next paydays:", ", ".join(f"{d:%a %d %b}" for d in next_paydays))
