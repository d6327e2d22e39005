# expect: error ValueError line 13
# An exception raised directly by top-level code after some output.
def parse_age(text):
    value = int(text)
    if value < 0:
        raise ValueError(f"negative age: {value}")
    return value


print("start")
ages = [parse_age(t) for t in ["12", "40", "7"]]
print("parsed", ages)
raise ValueError("the data set is too small: " + str(len(ages)))
print("never printed")
