print("first")
"""Not the docstring: a statement came first."""
print(__doc__)
