# expect: ok
# f-strings, str.format and %-formatting side by side.
item, qty, price = "widget", 7, 3.14159
print(f"{item}: {qty} x {price:.2f} = {qty * price:.2f}")
print(f"{item!r:>12}|{qty:05d}|{price:<10.3f}|")
print(f"{1234567.891:,.2f} {0.25:.1%} {255:#x} {255:08b}")
print("{0} and {1}; {1} and {0}".format("left", "right"))
print("{name} is {age} years old".format(name="Ada", age=36))
print("%s has %d items costing %.1f" % ("cart", 3, 9.5))
width = 10
print(f"[{'centered':^{width}}]")
print(f"{'=' * 20}")
rows = [("apples", 3, 0.5), ("pears", 12, 0.75), ("kiwis", 101, 0.2)]
for fruit, n, unit in rows:
    print(f"{fruit:<8}{n:>5}{unit:>8.2f}{n * unit:>9.2f}")
value = 42
print(f"{value=}")
print(f"{'nested ' + str(value // 5)!s}")
print("tab\tseparated", "back\\slash")
