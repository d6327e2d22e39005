# expect: syntax-error line 19
# differential: no
# A syntax error near the end of the file. `python file.py` compiles the whole file first,
# so it prints nothing; an eager executor has already run (and printed) the statements
# above the error by the time it sees it.
def area(w, h):
    return w * h


print("area:", area(3, 4))
sizes = [(1, 2), (3, 5)]
for w, h in sizes:
    print(w, h, area(w, h))
print("before the broken line")
total = sum(area(w, h) for w, h in sizes)
print("total", total)


if total > 10
    print("big")
