# expect: ok
# Conway's Game of Life on a 200x200 torus with NumPy: run 300 generations from a seeded
# random start, track the population and save snapshots.
import numpy as np
import matplotlib.pyplot as plt


def step(board):
    neighbours = sum(
        np.roll(np.roll(board, dy, axis=0), dx, axis=1)
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if (dy, dx) != (0, 0)
    )
    return (neighbours == 3) | (board & (neighbours == 2))


def add_glider(board, y, x):
    glider = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=bool)
    board[y : y + 3, x : x + 3] = glider


# Step 1: Initial board
rng = np.random.default_rng(3)
board = rng.random((200, 200)) < 0.25
add_glider(board, 5, 5)
print("Initial population:", int(board.sum()))

# Step 2: Run the simulation and record statistics
population, snapshots = [], {}
for gen in range(300):
    population.append(int(board.sum()))
    if gen in (0, 50, 299):
        snapshots[gen] = board.copy()
    board = step(board)
print("Population every 50 generations:", population[::50])

# Step 3: Detect when the population stabilised
changes = np.abs(np.diff(population))
quiet = np.flatnonzero(changes < 5)
print(f"First quiet generation: {quiet[0] if len(quiet) else 'none'}")
print(f"Final population: {population[-1]} ({population[-1] / population[0]:.1%} of the start)")

# Step 4: Save the snapshots and the population curve
fig, axes = plt.subplots(1, 4, figsize=(16, 4))
for ax, (gen, snap) in zip(axes, snapshots.items()):
    ax.imshow(snap, cmap="binary")
    ax.set_title(f"generation {gen}")
    ax.axis("off")
axes[3].plot(population)
axes[3].set_title("population")
plt.savefig("life.png")
print("Saved life.png")
