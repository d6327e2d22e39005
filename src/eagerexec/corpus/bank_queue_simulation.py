# expect: ok
"""
Discrete-event simulation of a bank with several tellers (an M/M/c queue).

For each number of tellers we simulate a working day many times and report the mean
waiting time and the share of customers who wait longer than five minutes.
"""
import heapq
import random
import statistics


def simulate_day(n_tellers, arrival_rate, service_rate, hours, rnd):
    """Return the waiting time (minutes) of every customer of one simulated day."""
    t, arrivals = 0.0, []
    while True:
        t += rnd.expovariate(arrival_rate)
        if t > hours * 60:
            break
        arrivals.append(t)
    free_at = [0.0] * n_tellers
    heapq.heapify(free_at)
    waits = []
    for arrival in arrivals:
        teller_free = heapq.heappop(free_at)
        start = max(arrival, teller_free)
        waits.append(start - arrival)
        heapq.heappush(free_at, start + rnd.expovariate(service_rate))
    return waits


def main():
    rnd = random.Random(2023)
    arrival_rate = 1.6   # customers per minute
    service_rate = 0.45  # customers per minute per teller
    print(f"Load: {arrival_rate / service_rate:.2f} tellers busy on average\n")
    print(f"{'tellers':>7} {'mean wait':>10} {'p95 wait':>9} {'>5 min':>7}")
    for n_tellers in range(4, 9):
        waits = []
        for _ in range(60):
            waits.extend(simulate_day(n_tellers, arrival_rate, service_rate, 8, rnd))
        waits.sort()
        p95 = waits[int(0.95 * len(waits))]
        long_share = sum(w > 5 for w in waits) / len(waits)
        print(f"{n_tellers:>7} {statistics.mean(waits):>9.2f}m {p95:>8.2f}m {long_share:>7.1%}")
    print("\nRecommendation: staff the smallest number of tellers with a mean wait under 1 minute.")


if __name__ == "__main__":
    main()
