# expect: error NameError line 35
# Employee salary analysis: pay by department and seniority, gender pay gap, and raises.
import numpy as np
import pandas as pd

# Step 1: Build the HR dataset
rng = np.random.default_rng(8)
n = 30_000
departments = ["Engineering", "Sales", "Marketing", "Support", "Finance"]
base = {"Engineering": 95_000, "Sales": 70_000, "Marketing": 68_000, "Support": 52_000, "Finance": 80_000}
dept = rng.choice(departments, n)
years = rng.integers(0, 30, n)
hr = pd.DataFrame({
    "employee_id": np.arange(n),
    "department": dept,
    "gender": rng.choice(["F", "M"], n),
    "years": years,
    "salary": [base[d] for d in dept] * (1 + 0.025 * years) * rng.lognormal(0, 0.12, n),
})
hr.to_csv("employees.csv", index=False)
hr = pd.read_csv("employees.csv")
print(hr.describe().round(0))

# Step 2: Salary by department
dept_stats = hr.groupby("department")["salary"].agg(["median", "mean", "std", "count"])
print("\nSalary by department:")
print(dept_stats.sort_values("median", ascending=False).round(0))

# Step 3: Seniority bands
hr["band"] = pd.cut(hr["years"], bins=[-1, 2, 5, 10, 20, 30], labels=["0-2", "3-5", "6-10", "11-20", "21+"])
band_median = hr.groupby("band", observed=True)["salary"].median()
print("\nMedian salary by seniority band:")
print(band_median.round(0))
avg_salary = hr["salary"].mean()
print(f"\nCompany average salary: {avg_salry:,.0f}")

# Step 4: Pay gap by department
gap = hr.pivot_table(index="department", columns="gender", values="salary", aggfunc="median")
gap["gap_%"] = 100 * (gap["M"] - gap["F"]) / gap["M"]
print("\nMedian pay gap:")
print(gap.round(1))

# Step 5: Simulate a 3% raise for everyone below the band median
hr["band_median"] = hr.groupby("band", observed=True)["salary"].transform("median")
hr["new_salary"] = np.where(hr["salary"] < hr["band_median"], hr["salary"] * 1.03, hr["salary"])
cost = (hr["new_salary"] - hr["salary"]).sum()
print(f"\nCost of raises: {cost:,.0f}")
