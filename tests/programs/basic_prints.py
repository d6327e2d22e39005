# expect: ok
# Plain prints: sep/end, multiple arguments, numbers and containers.
print("hello, world")
print("a", "b", "c", sep="-")
print("no newline", end="")
print(" ... continued")
print(1, 2.5, True, None)
print([1, 2, 3], (4, 5), {"k": "v"})
print()
total = 0
for i in range(1, 6):
    total += i
    print(i, total, sep="\t")
print("total:", total)
name = "eager"
print("upper:", name.upper(), "len:", len(name))
print(repr("quoted 'string'"), ascii("café"))
