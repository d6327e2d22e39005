# expect: ok
# Recursive functions: factorial, memoised fibonacci, towers of Hanoi, permutations, flatten.
def factorial(n):
    return 1 if n <= 1 else n * factorial(n - 1)


def fib(n, memo={}):  # noqa: B006 - the shared default is the memo on purpose
    if n < 2:
        return n
    if n not in memo:
        memo[n] = fib(n - 1) + fib(n - 2)
    return memo[n]


def hanoi(n, src, dst, via, moves):
    if n == 0:
        return moves
    hanoi(n - 1, src, via, dst, moves)
    moves.append((src, dst))
    hanoi(n - 1, via, dst, src, moves)
    return moves


def permutations(items):
    if len(items) <= 1:
        return [items]
    return [[x, *p] for i, x in enumerate(items) for p in permutations(items[:i] + items[i + 1 :])]


def flatten(nested):
    for x in nested:
        if isinstance(x, list):
            yield from flatten(x)
        else:
            yield x


print(factorial(10), fib(80))
print(hanoi(3, "A", "C", "B", []))
print(len(hanoi(10, "A", "C", "B", [])), "moves for 10 disks")
print(permutations([1, 2, 3]))
print(list(flatten([1, [2, [3, [4, 5]], 6], [[7]]])))
