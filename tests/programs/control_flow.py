# expect: ok
# if/elif/else chains, for/else and while/else (both with and without break).
def grade(score):
    if score >= 90:
        return "A"
    elif score >= 80:
        return "B"
    elif score >= 70:
        return "C"
    else:
        return "F"


print([grade(s) for s in [95, 85, 72, 10]])

for n in [9, 15, 21]:
    if n % 7 == 0:
        print("multiple of 7 found:", n)
        break
else:
    print("no multiple of 7")

for n in [9, 15, 22]:
    if n % 7 == 0:
        print("multiple of 7 found:", n)
        break
else:
    print("no multiple of 7 in the second list")

i = 0
while i < 3:
    i += 1
else:
    print("while finished normally at", i)

i = 10
while i > 0:
    if i == 7:
        print("breaking at", i)
        break
    i -= 1
else:
    print("never printed")

x = 0
if x:
    print("truthy")
elif x == 0:
    print("zero")
