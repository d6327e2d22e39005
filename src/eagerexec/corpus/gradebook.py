# expect: error IndexError line 30
"""Course grade book: weighted averages, letter grades, ranking and per-assignment stats."""
import random
import statistics

WEIGHTS = {"homework": 0.3, "midterm": 0.3, "final": 0.4}
LETTERS = [(90, "A"), (80, "B"), (70, "C"), (60, "D"), (0, "F")]


def letter(score):
    return next(grade for cutoff, grade in LETTERS if score >= cutoff)


# Step 1: Random class of students with 8 homework scores and two exams
rnd = random.Random(12)
students = []
for i in range(400):
    skill = rnd.gauss(75, 10)
    students.append({
        "name": f"student_{i:03d}",
        "homework": [min(100, max(0, round(rnd.gauss(skill + 5, 8)))) for _ in range(8)],
        "midterm": min(100, max(0, round(rnd.gauss(skill, 12)))),
        "final": min(100, max(0, round(rnd.gauss(skill, 14)))),
    })
print(f"{len(students)} students loaded")

# Step 2: Drop the two lowest homework scores and compute the weighted average
for s in students:
    hw = sorted(s["homework"])
    kept = [hw[i] for i in range(2, len(hw) + 1)]
    s["hw_avg"] = sum(kept) / len(kept)
    s["total"] = (WEIGHTS["homework"] * s["hw_avg"] + WEIGHTS["midterm"] * s["midterm"]
                  + WEIGHTS["final"] * s["final"])
    s["letter"] = letter(s["total"])

# Step 3: Grade distribution
distribution = {g: sum(1 for s in students if s["letter"] == g) for _, g in LETTERS}
for grade, count in distribution.items():
    print(f"{grade}: {'#' * (count // 4)} {count}")

# Step 4: Top 5 and per-assessment statistics
ranked = sorted(students, key=lambda s: s["total"], reverse=True)
for rank, s in enumerate(ranked[:5], start=1):
    print(f"{rank}. {s['name']} {s['total']:.1f} ({s['letter']})")
for part in ["midterm", "final"]:
    scores = [s[part] for s in students]
    print(f"{part}: mean {statistics.mean(scores):.1f}, stdev {statistics.stdev(scores):.1f}")
