# expect: ok
# Generators: lazy pipelines, yield from, send() and generator expressions.
def countdown(n):
    while n > 0:
        yield n
        n -= 1


def chain_all(*iterables):
    for it in iterables:
        yield from it


def running_average():
    total = 0.0
    count = 0
    average = None
    while True:
        value = yield average
        total += value
        count += 1
        average = total / count


print(list(countdown(5)))
print(list(chain_all("ab", [1, 2], range(3))))
avg = running_average()
next(avg)
for v in [10, 20, 60]:
    print("average now", avg.send(v))
squares = (i * i for i in range(10))
print("sum of even squares:", sum(s for s in squares if s % 2 == 0))
gen = countdown(3)
print(next(gen), next(gen), next(gen), next(gen, "done"))


def fib():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b


first = []
for n in fib():
    if n > 100:
        break
    first.append(n)
print(first)
