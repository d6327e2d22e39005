# expect: error TypeError line 36
# Student performance dashboard: score distributions by subject, study-time correlation,
# and a printed report card summary.
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

# Step 1: Generate the dataset
rng = np.random.default_rng(19)
n = 12_000
study_hours = rng.gamma(2.5, 2.0, n).round(1)
students = pd.DataFrame({
    "student_id": [f"S{i:05d}" for i in range(n)],
    "school": rng.choice(["Northside", "Lakeview", "Central"], n),
    "study_hours": study_hours,
    "math": np.clip(rng.normal(55 + 3 * study_hours, 12), 0, 100).round(),
    "reading": np.clip(rng.normal(60 + 2 * study_hours, 10), 0, 100).round(),
    "science": np.clip(rng.normal(52 + 2.5 * study_hours, 14), 0, 100).round(),
})
students.to_csv("students.csv", index=False)
students = pd.read_csv("students.csv")
print(students.head())

# Step 2: Summary statistics per subject
subjects = ["math", "reading", "science"]
print(students[subjects].describe().round(1))

# Step 3: Correlation with study time
for subject in subjects:
    r = np.corrcoef(students["study_hours"], students[subject])[0, 1]
    print(f"corr(study_hours, {subject}) = {r:.3f}")

# Step 4: School averages
students["average"] = students[subjects].mean(axis=1)
school_avg = students.groupby("school")["average"].mean().sort_values(ascending=False)
print("Best school: " + school_avg.index[0] + " with an average of " + school_avg.iloc[0].round(1))

# Step 5: Pass rates (>= 50 in every subject)
students["passed"] = (students[subjects] >= 50).all(axis=1)
print(students.groupby("school")["passed"].mean().map("{:.1%}".format))

# Step 6: Histograms
fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=True)
for ax, subject in zip(axes, subjects):
    ax.hist(students[subject], bins=30)
    ax.set_title(subject)
plt.savefig("score_histograms.png")
