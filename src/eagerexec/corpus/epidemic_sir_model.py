# expect: ok
# SIR epidemic model: integrate the equations with a simple Euler scheme for several
# contact rates, report the peak of each outbreak and plot the curves.
import numpy as np
import matplotlib.pyplot as plt


def simulate_sir(beta, gamma, population=1_000_000, infected0=10, days=300, dt=0.01):
    s, i, r = population - infected0, float(infected0), 0.0
    steps_per_day = int(1 / dt)
    history = []
    for day in range(days):
        for _ in range(steps_per_day):
            new_inf = beta * s * i / population * dt
            new_rec = gamma * i * dt
            s -= new_inf
            i += new_inf - new_rec
            r += new_rec
        history.append((day, s, i, r))
    return np.array(history)


def summarize(label, result, population=1_000_000):
    peak_idx = result[:, 2].argmax()
    print(f"{label:>12}: peak day {int(result[peak_idx, 0]):3d}, "
          f"peak infected {result[peak_idx, 2] / population:6.2%}, "
          f"total infected {result[-1, 3] / population:6.2%}")


def main():
    gamma = 1 / 10
    scenarios = {"no measures": 0.30, "distancing": 0.20, "lockdown": 0.13}
    results = {}
    print("Simulating", len(scenarios), "scenarios ...")
    for label, beta in scenarios.items():
        print(f"  R0 = {beta / gamma:.1f} for {label}")
        results[label] = simulate_sir(beta, gamma)
    print()
    for label, result in results.items():
        summarize(label, result)
    fig, ax = plt.subplots(figsize=(8, 4))
    for label, result in results.items():
        ax.plot(result[:, 0], result[:, 2], label=label)
    ax.set_xlabel("day")
    ax.set_ylabel("infected")
    ax.legend()
    fig.savefig("sir_scenarios.png")
    print("\nSaved sir_scenarios.png")


if __name__ == "__main__":
    main()
