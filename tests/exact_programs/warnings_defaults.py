import warnings

warnings.warn("deprecated in __main__ is shown by default", DeprecationWarning)
warnings.warn("pending is ignored", PendingDeprecationWarning)


def old():
    warnings.warn("from a function in __main__", DeprecationWarning, stacklevel=2)


old()
print(sorted({f[0] for f in warnings.filters}))
