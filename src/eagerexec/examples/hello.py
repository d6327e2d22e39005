# expect: ok
"""A tiny stdlib-only example: classify a few numbers and keep a running tally."""


class Tally:
    def __init__(self):
        self.counts = {"negative": 0, "zero": 0, "positive": 0}

    def add(self, label):
        self.counts[label] += 1


def classify(value):
    if value < 0:
        return "negative"
    elif value == 0:
        return "zero"
    else:
        return "positive"


tally = Tally()
for text in ["3", "-7", "0", "oops", "12"]:
    try:
        number = int(text)
    except ValueError:
        print(f"skipping {text!r}: not a number")
        continue
    tally.add(classify(number))
    print(f"{number:>3} is {classify(number)}")
print("totals:", tally.counts)
