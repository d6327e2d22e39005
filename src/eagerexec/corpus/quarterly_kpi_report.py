# expect: error KeyError line 36
"""
Quarterly KPI report for a subscription business: MRR, churn and net revenue
retention per quarter, computed from a simulated subscription event log.
"""
import numpy as np
import pandas as pd


def simulate_subscriptions(n_customers=20_000, seed=13):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, n_customers), unit="D")
    lifetime = pd.to_timedelta(rng.exponential(420, n_customers).astype(int), unit="D")
    plan = rng.choice(["basic", "pro", "enterprise"], n_customers, p=[0.6, 0.3, 0.1])
    price = pd.Series(plan).map({"basic": 19.0, "pro": 49.0, "enterprise": 299.0})
    return pd.DataFrame({"customer_id": np.arange(n_customers), "plan": plan, "mrr": price,
                         "start": start, "end": start + lifetime})


def active_in(subs, day):
    return subs[(subs["start"] <= day) & (subs["end"] > day)]


def quarter_metrics(subs, q_start, q_end):
    opening = active_in(subs, q_start)
    closing = active_in(subs, q_end)
    churned = opening[~opening["customer_id"].isin(closing["customer_id"])]
    retained = closing[closing["customer_id"].isin(opening["customer_id"])]
    return {
        "quarter": f"{q_start.year}-Q{q_start.quarter}",
        "customers": len(closing),
        "mrr": closing["mrr"].sum(),
        "churn_rate": len(churned) / max(len(opening), 1),
        "nrr": retained["mrr"].sum() / max(opening["mrr"].sum(), 1),
        "new_customers": int(((subs["start"] > q_start) & (subs["start"] <= q_end)).sum()),
        "enterprise_share": closing.groupby("plan")["mrr"].sum()["Enterprise"] / closing["mrr"].sum(),
    }


def main():
    subs = simulate_subscriptions()
    subs.to_csv("subscriptions.csv", index=False)
    subs = pd.read_csv("subscriptions.csv", parse_dates=["start", "end"])
    print(f"{len(subs):,} subscriptions loaded")
    print(subs["plan"].value_counts())

    quarters = pd.date_range("2022-04-01", "2024-01-01", freq="QS")
    rows = [quarter_metrics(subs, a - pd.Timedelta(days=1), b - pd.Timedelta(days=1))
            for a, b in zip(quarters[:-1], quarters[1:])]
    report = pd.DataFrame(rows).set_index("quarter")
    print(report.round(3))
    report.to_csv("kpi_report.csv")
    print(f"MRR growth over the period: {report['mrr'].iloc[-1] / report['mrr'].iloc[0] - 1:.1%}")


if __name__ == "__main__":
    main()
