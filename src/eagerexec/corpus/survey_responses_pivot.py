# expect: error ValueError line 38
"""
Employee engagement survey: response rates, average scores per question and team,
and a team x question heat map.
"""
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

QUESTIONS = ["Q1_workload", "Q2_manager", "Q3_growth", "Q4_tools", "Q5_recommend"]

# Step 1: Simulate responses in long format (one row per answer)
rng = np.random.default_rng(2)
teams = [f"Team {c}" for c in "ABCDEFGH"]
rows = []
for team in teams:
    team_mood = rng.normal(0, 0.5)
    for respondent in range(rng.integers(40, 90)):
        for q in QUESTIONS:
            score = int(np.clip(round(rng.normal(3.4 + team_mood, 1.0)), 1, 5))
            rows.append((f"{team}-{respondent:03d}", team, q, score))
answers = pd.DataFrame(rows, columns=["respondent", "team", "question", "score"])
answers.to_csv("survey_answers.csv", index=False)
print(f"{answers['respondent'].nunique()} respondents, {len(answers)} answers")

# Step 2: Overall averages per question
answers = pd.read_csv("survey_answers.csv")
print("\nAverage score per question:")
print(answers.groupby("question")["score"].mean().round(2))

# Step 3: Share of favourable answers (4 or 5)
answers["favourable"] = answers["score"] >= 4
fav = answers.groupby("team")["favourable"].mean().sort_values()
print("\nFavourable share by team:")
print((100 * fav).round(1).astype(str) + "%")

# Step 4: Team x question matrix for the heat map
matrix = answers.pivot(index="team", columns="question", values="score")
print(matrix.round(2))

# Step 5: Heat map
fig, ax = plt.subplots(figsize=(8, 5))
im = ax.imshow(matrix.to_numpy(), cmap="RdYlGn", vmin=1, vmax=5)
ax.set_xticks(range(len(QUESTIONS)), QUESTIONS, rotation=30)
ax.set_yticks(range(len(teams)), matrix.index)
fig.colorbar(im)
plt.savefig("engagement_heatmap.png")
print("Heat map saved")
