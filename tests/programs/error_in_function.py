# expect: error ZeroDivisionError line 6
# The failing line is inside a function two calls deep.
def ratio(a, b):
    print(f"ratio({a}, {b})")
    scale = 100
    return scale * a / b


def report(pairs):
    out = []
    for a, b in pairs:
        out.append(ratio(a, b))
    return out


print(report([(1, 2), (3, 4)]))
print("next batch")
print(report([(5, 5), (1, 0), (2, 2)]))
print("unreachable")
