# expect: ok
# json, collections and itertools working together.
import itertools
import json
from collections import Counter, OrderedDict, defaultdict, deque

text = "the cat sat on the mat the end"
counts = Counter(text.split())
print(counts.most_common(2))
print(sorted(counts.elements())[:5])

by_len = defaultdict(list)
for word in text.split():
    by_len[len(word)].append(word)
print(dict(sorted(by_len.items())))

window = deque(maxlen=3)
for n in range(6):
    window.append(n)
print(list(window))

od = OrderedDict(a=1, b=2, c=3)
od.move_to_end("a")
print(list(od))

print(list(itertools.accumulate([1, 2, 3, 4])))
print(list(itertools.combinations("abcd", 2))[:4])
print([k + str(len(list(g))) for k, g in itertools.groupby("aaabccdddd")])
print(list(itertools.islice(itertools.cycle("xy"), 5)))
print(list(itertools.product([0, 1], repeat=2)))

payload = {"counts": dict(counts), "lengths": {str(k): v for k, v in by_len.items()}}
encoded = json.dumps(payload, sort_keys=True)
print(len(encoded), json.loads(encoded)["counts"]["the"])
print(json.dumps({"b": [1, 2], "a": None}, sort_keys=True, indent=1))
