import warnings

warnings.warn("plain user warning")
for i in range(3):
    warnings.warn("once per location", DeprecationWarning if i > 5 else UserWarning)
warnings.simplefilter("error", RuntimeWarning)
try:
    warnings.warn("now an error", RuntimeWarning)
except RuntimeWarning as exc:
    print("caught", exc)
warnings.filterwarnings("ignore", message="ignored")
warnings.warn("ignored here")
print("done")
