# expect: ok
# Probability puzzles with dice: exact distributions by enumeration, then Monte Carlo checks.
import itertools
import random
from collections import Counter
from fractions import Fraction


def exact_sum_distribution(n_dice, sides=6):
    counts = Counter(sum(roll) for roll in itertools.product(range(1, sides + 1), repeat=n_dice))
    total = sides**n_dice
    return {s: Fraction(c, total) for s, c in sorted(counts.items())}


def simulate(trial, n, seed):
    rnd = random.Random(seed)
    return sum(trial(rnd) for _ in range(n)) / n


# Step 1: Exact distribution of the sum of three dice
dist = exact_sum_distribution(3)
print("P(sum of 3 dice):")
for s, p in dist.items():
    print(f"  {s:2d}: {str(p):>7}  {float(p):.4f}  {'*' * round(float(p) * 200)}")

# Step 2: Exact probability of at least one six in four rolls vs a double six in 24 rolls
p_one_six = 1 - Fraction(5, 6) ** 4
p_double_six = 1 - Fraction(35, 36) ** 24
print(f"\nDe Méré: P(six in 4 rolls) = {float(p_one_six):.4f}, P(double six in 24) = {float(p_double_six):.4f}")

# Step 3: Monte Carlo checks
n = 100_000
sim_one = simulate(lambda r: any(r.randint(1, 6) == 6 for _ in range(4)), n, seed=1)
sim_double = simulate(lambda r: any(r.randint(1, 6) == r.randint(1, 6) == 6 for _ in range(24)), n, seed=2)
print(f"Simulated: {sim_one:.4f} and {sim_double:.4f}")

# Step 4: Yahtzee probability in a single throw of five dice, exact and simulated
p_yahtzee = Fraction(6, 6**5)
sim_yahtzee = simulate(lambda r: len({r.randint(1, 6) for _ in range(5)}) == 1, n, seed=3)
print(f"\nYahtzee in one throw: exact {float(p_yahtzee):.5f}, simulated {sim_yahtzee:.5f}")
print("Expected throws until a Yahtzee:", 1 / p_yahtzee)
