# expect: ok
# A matplotlib figure drawn with the Agg backend and saved to PNG in the working directory.
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

xs = [i / 10 for i in range(63)]
ys = [math.sin(x) for x in xs]
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(xs, ys, label="sin")
ax.plot(xs, [math.cos(x) for x in xs], label="cos")
ax.set_title("Trig functions")
ax.legend()
fig.savefig("trig.png", dpi=50)
plt.close(fig)
print("lines drawn:", len(ax.lines))
print("title:", ax.get_title())
print("png exists:", os.path.exists("trig.png"))
print("max sin: %.3f" % max(ys))
