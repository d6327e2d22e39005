# expect: ok
# Random walks and diffusion: simulate many 2-D walkers, check that the mean squared
# displacement grows linearly with time, and estimate the diffusion coefficient.
import numpy as np
import matplotlib.pyplot as plt

# Step 1: Simulate 2,000 walkers for 1,000 steps
rng = np.random.default_rng(123)
n_walkers, n_steps = 2_000, 1_000
angles = rng.uniform(0, 2 * np.pi, size=(n_walkers, n_steps))
steps = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
paths = np.cumsum(steps, axis=1)
print("Paths array:", paths.shape)

# Step 2: Mean squared displacement and the diffusion coefficient (MSD = 4 D t in 2-D)
msd = (paths**2).sum(axis=2).mean(axis=0)
t = np.arange(1, n_steps + 1)
D = np.polyfit(t, msd, 1)[0] / 4
print(f"MSD after {n_steps} steps: {msd[-1]:.1f} (theory {n_steps})")
print(f"Estimated diffusion coefficient: {D:.4f} (theory 0.25)")

# Step 3: First-passage times to a circle of radius 20 (slow loop over walkers)
radius = 20
first_passage = []
for walker in paths:
    outside = np.flatnonzero((walker**2).sum(axis=1) > radius**2)
    if outside.size:
        first_passage.append(outside[0] + 1)
first_passage = np.array(first_passage)
print(f"{len(first_passage)} of {n_walkers} walkers left the circle")
print(f"Mean first-passage time: {first_passage.mean():.1f} steps (theory ~{radius**2 / (4 * 0.25):.0f})")

# Step 4: Distribution of final distances vs the Rayleigh prediction
final_r = np.linalg.norm(paths[:, -1], axis=1)
sigma2 = n_steps / 2
print(f"Mean final distance: {final_r.mean():.2f} (Rayleigh {np.sqrt(np.pi * sigma2 / 2):.2f})")

# Step 5: Plot a few walkers and the MSD
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 5))
for walker in paths[:8]:
    ax1.plot(walker[:, 0], walker[:, 1], lw=0.6)
ax1.add_patch(plt.Circle((0, 0), radius, fill=False, ls="--"))
ax1.set_aspect("equal")
ax2.plot(t, msd, label="simulated")
ax2.plot(t, 4 * 0.25 * t, "--", label="theory")
ax2.legend()
plt.savefig("random_walks.png")
print("Saved random_walks.png")
