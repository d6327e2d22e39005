# expect: ok
# Closures, nonlocal and global.
counter_calls = 0


def make_counter(start=0):
    value = start

    def increment(step=1):
        nonlocal value
        global counter_calls
        counter_calls += 1
        value += step
        return value

    return increment


a = make_counter()
b = make_counter(100)
print(a(), a(), a(5))
print(b(), b(-50))
print("calls:", counter_calls)


def make_multipliers():
    return [lambda x, k=k: x * k for k in range(1, 4)]


print([f(10) for f in make_multipliers()])


def accumulate():
    history = []

    def add(x):
        history.append(x)
        return sum(history)

    add.history = history
    return add


acc = accumulate()
for v in [3, 4, 5]:
    print("running sum", acc(v))
print("history", acc.history)
