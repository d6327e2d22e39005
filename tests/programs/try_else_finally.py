# expect: ok
# try/except/else/finally: the else branch runs on success, the except branch on failure,
# finally always runs (also when returning from inside try).
def safe_divide(a, b):
    log = []
    try:
        result = a / b
    except ZeroDivisionError:
        log.append("except")
        result = None
    else:
        log.append("else")
    finally:
        log.append("finally")
    return result, log


print(safe_divide(10, 4))
print(safe_divide(1, 0))


def early_return():
    try:
        return "from try"
    finally:
        print("finally before return")


print(early_return())

try:
    value = int("17")
except ValueError:
    print("top-level except")
else:
    print("top-level else, value", value)
finally:
    print("top-level finally 1")

try:
    value = int("seventeen")
except ValueError as err:
    print("top-level except:", err)
else:
    print("not printed")
finally:
    print("top-level finally 2")
