# expect: ok
# Sorting with keys: multiple criteria, reverse, stability, operator.itemgetter/attrgetter.
from collections import namedtuple
from operator import attrgetter, itemgetter

Employee = namedtuple("Employee", "name dept salary")
staff = [
    Employee("ana", "eng", 120),
    Employee("bo", "ops", 90),
    Employee("cy", "eng", 95),
    Employee("di", "ops", 90),
    Employee("ed", "sales", 70),
]
print([e.name for e in sorted(staff, key=attrgetter("salary"))])
print([e.name for e in sorted(staff, key=lambda e: (e.dept, -e.salary))])
print([e.name for e in sorted(staff, key=attrgetter("salary"), reverse=True)])
pairs = [("b", 2), ("a", 2), ("c", 1)]
print(sorted(pairs, key=itemgetter(1)))
print(sorted(["Banana", "apple", "cherry"], key=str.lower))
print(sorted(["10", "9", "100", "1"], key=int))
words = "one two three four five six".split()
print(sorted(words, key=len))
print(max(staff, key=attrgetter("salary")).name, min(words, key=len))
data = [3, 1, 2]
data.sort(reverse=True)
print(data)
