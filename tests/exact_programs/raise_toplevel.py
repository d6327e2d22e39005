def inner(v):
    return {"a": 1}[v]


def outer(v):
    return inner(v) + 1


print("start")
outer("b")
print("never")
