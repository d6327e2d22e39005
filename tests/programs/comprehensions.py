# expect: ok
# List, dict and set comprehensions, nested loops, conditions and generator expressions.
words = ["apple", "banana", "cherry", "date", "elderberry", "fig", "grape"]
print([w.upper() for w in words if len(w) <= 5])
print({w: len(w) for w in words if "e" in w})
print(sorted({len(w) for w in words}))
print([(i, j) for i in range(3) for j in range(i)])
matrix = [[r * 3 + c for c in range(3)] for r in range(3)]
print(matrix)
print([list(col) for col in zip(*matrix)])
print([x for row in matrix for x in row if x % 2])
print({k: v for k, v in zip("abc", range(3))})
print(sum(len(w) for w in words), max(len(w) for w in words))
labels = ["even" if n % 2 == 0 else "odd" for n in range(5)]
print(labels)
index = {}
for w in words:
    index.setdefault(w[0], []).append(w)
print({k: v for k, v in sorted(index.items()) if len(v) == 1})
