# expect: error TypeError line 12
# A TypeError raised inside a comprehension at top level (a str slipped into the data).
readings = [12.5, 13.0, 11.75, "n/a", 14.25]
valid = [r for r in readings if isinstance(r, float)]
print("valid readings:", valid)
mean = sum(valid) / len(valid)
print(f"mean of valid: {mean:.3f}")


print("now converting everything to Fahrenheit")
fahrenheit = [
    r * 9 / 5 + 32
    for r in readings
]
print(fahrenheit)
