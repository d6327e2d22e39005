# expect: ok
# Sessionise website click events: a new session starts after 30 minutes of inactivity.
# Reports session counts, durations, bounce rate and the most common landing pages.
import numpy as np
import pandas as pd

# Step 1: Simulate click events for 2,000 users over a week
rng = np.random.default_rng(44)
pages = ["/home", "/products", "/product/1", "/product/2", "/cart", "/checkout", "/blog", "/about"]
frames = []
for user in range(2_000):
    n_clicks = rng.integers(1, 60)
    gaps = np.where(rng.random(n_clicks) < 0.9, rng.exponential(8, n_clicks), rng.exponential(300, n_clicks))
    start = pd.Timestamp("2024-04-01") + pd.Timedelta(minutes=int(rng.integers(0, 7 * 24 * 60)))
    times = start + pd.to_timedelta(np.cumsum(gaps), unit="min")
    frames.append(pd.DataFrame({"user_id": user, "timestamp": times, "page": rng.choice(pages, n_clicks)}))
clicks = pd.concat(frames, ignore_index=True)
clicks.to_csv("clicks.csv", index=False)
print(f"{len(clicks):,} click events")

# Step 2: Load and sort
clicks = pd.read_csv("clicks.csv", parse_dates=["timestamp"]).sort_values(["user_id", "timestamp"])

# Step 3: Assign session ids
gap = clicks.groupby("user_id")["timestamp"].diff()
clicks["new_session"] = gap.isna() | (gap > pd.Timedelta(minutes=30))
clicks["session_id"] = clicks["new_session"].cumsum()
clicks["is_checkout"] = clicks["page"] == "/checkout"
print(f"{clicks['session_id'].nunique():,} sessions")

# Step 4: Session-level metrics
sessions = clicks.groupby("session_id").agg(
    user_id=("user_id", "first"),
    start=("timestamp", "min"),
    end=("timestamp", "max"),
    pageviews=("page", "size"),
    landing=("page", "first"),
    converted=("is_checkout", "max"),
)
sessions["duration_min"] = (sessions["end"] - sessions["start"]).dt.total_seconds() / 60
print(sessions.head())

# Step 5: Report
print(f"\nMedian session length: {sessions['duration_min'].median():.1f} min")
print(f"Bounce rate (1 pageview): {(sessions['pageviews'] == 1).mean():.1%}")
print(f"Conversion rate: {sessions['converted'].mean():.2%}")
print("\nLanding pages:")
print(sessions["landing"].value_counts().head(5))
print("\nSessions per weekday:")
print(sessions["start"].dt.day_name().value_counts())
