# expect: ok
# re, math and datetime with fixed dates (no clock reads).
import math
import re
from datetime import date, datetime, timedelta

log = """2024-03-01 12:00:01 INFO start
2024-03-01 12:00:05 WARN disk 91%
2024-03-01 12:01:10 ERROR timeout after 30s
2024-03-02 08:15:00 INFO stop"""
pattern = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\S+) (\w+) (.*)$", re.M)
entries = pattern.findall(log)
print(len(entries), "entries;", [e[2] for e in entries])
print(re.sub(r"\d+", "#", "order 66 shipped in 3 boxes"))
print(re.split(r"[;,]\s*", "a, b;c,  d"))
m = re.search(r"(?P<n>\d+)s", log)
print("timeout seconds:", m.group("n"), m.span())

print(math.sqrt(2), math.pi, math.floor(-2.5), math.ceil(2.1))
print(math.gcd(84, 36), math.comb(10, 3), math.factorial(6), math.isclose(0.1 + 0.2, 0.3))
print(round(math.hypot(3, 4), 1), round(math.log(1000, 10), 6))

start = date(2024, 1, 31)
print(start + timedelta(days=30), start.weekday(), start.strftime("%A %d %B %Y"))
t1 = datetime(2024, 3, 1, 12, 0, 1)
t2 = datetime.strptime("2024-03-02 08:15:00", "%Y-%m-%d %H:%M:%S")
delta = t2 - t1
print(delta, delta.total_seconds(), (t2 - t1) // timedelta(hours=1), "hours")
print(date(2024, 12, 25) - date(2024, 1, 1))
print([(start + timedelta(weeks=w)).isoformat() for w in range(3)])
