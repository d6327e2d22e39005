# expect: ok
# Figures left open at the end (no savefig); output printed is deterministic.
import matplotlib.pyplot as plt

counts = {"mon": 4, "tue": 7, "wed": 3, "thu": 9, "fri": 6}
fig1, ax1 = plt.subplots()
bars = ax1.bar(list(counts), list(counts.values()), color="steelblue")
ax1.set_ylabel("tickets")
print("bars:", len(bars), "tallest:", max(counts, key=counts.get))

fig2, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
left.scatter([1, 2, 3], [3, 1, 2])
right.hist([1, 1, 2, 3, 3, 3, 4], bins=4)
fig2.suptitle("two panels")
print("open figures:", len(plt.get_fignums()))
print("axes in fig2:", len(fig2.axes))
print("ylabel:", ax1.get_ylabel())
