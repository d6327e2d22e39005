# expect: ok
# Function decorators: functools.wraps, decorators with arguments, stacking, lru_cache.
import functools

calls = []


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        calls.append(func.__name__)
        return func(*args, **kwargs)

    return wrapper


def repeat(times):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args):
            return [func(*args) for _ in range(times)]

        return wrapper

    return decorate


@logged
@repeat(3)
def greet(name):
    return f"hi {name}"


@functools.lru_cache(maxsize=None)
def slow_square(n):
    calls.append(f"square({n})")
    return n * n


print(greet("ann"))
print(greet.__name__, greet.__wrapped__.__name__)
print([slow_square(n) for n in [2, 3, 2, 3, 4]])
print(calls)
print(slow_square.cache_info().hits, "cache hits")
