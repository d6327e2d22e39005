# expect: ok
"""
Mortgage calculator: amortisation schedule, total interest, and the effect of extra
monthly payments, with a chart of the remaining balance.
"""
import pandas as pd
import matplotlib.pyplot as plt


def monthly_payment(principal, annual_rate, years):
    r = annual_rate / 12
    n = years * 12
    return principal * r / (1 - (1 + r) ** -n)


def schedule(principal, annual_rate, years, extra=0.0):
    payment = monthly_payment(principal, annual_rate, years)
    balance, rows, month = principal, [], 0
    while balance > 0.005:
        month += 1
        interest = balance * annual_rate / 12
        principal_paid = min(payment + extra - interest, balance)
        balance -= principal_paid
        rows.append({"month": month, "interest": interest, "principal": principal_paid, "balance": balance})
    return pd.DataFrame(rows)


# Step 1: Base case
principal, rate, years = 350_000, 0.0625, 30
payment = monthly_payment(principal, rate, years)
print(f"Loan ${principal:,} at {rate:.2%} for {years} years -> payment ${payment:,.2f}/month")

# Step 2: Full schedule
base = schedule(principal, rate, years)
print(base.head(3).round(2))
print(base.tail(3).round(2))
print(f"Total interest: ${base['interest'].sum():,.2f}")

# Step 3: Yearly summary
base["year"] = (base["month"] - 1) // 12 + 1
yearly = base.groupby("year")[["interest", "principal"]].sum()
print("\nFirst five years:")
print(yearly.head().round(0))

# Step 4: Extra payments
print("\nExtra payment scenarios:")
results = {}
for extra in [0, 100, 250, 500, 1000]:
    s = schedule(principal, rate, years, extra)
    results[extra] = s
    print(f"  +${extra:>5}/month: paid off in {len(s) / 12:5.1f} years, interest ${s['interest'].sum():,.0f}")

# Step 5: Plot remaining balance
for extra, s in results.items():
    plt.plot(s["month"] / 12, s["balance"], label=f"+${extra}")
plt.xlabel("years")
plt.ylabel("balance")
plt.legend()
plt.savefig("amortization.png")
print("\nChart saved to amortization.png")
