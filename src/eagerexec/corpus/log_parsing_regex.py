# expect: ok
"""Parse a web server access log with regular expressions and report traffic statistics."""
import random
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta

LOG_PATTERN = re.compile(
    r'(?P<ip>\d+\.\d+\.\d+\.\d+) - - \[(?P<ts>[^\]]+)\] '
    r'"(?P<method>GET|POST|PUT|DELETE) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<size>\d+)'
)


def generate_log(path, n_lines, seed=3):
    rnd = random.Random(seed)
    paths = ["/", "/login", "/api/items", "/api/items/42", "/static/app.js", "/search?q=shoes"]
    start = datetime(2024, 5, 1, 0, 0, 0)
    with open(path, "w") as fh:
        for i in range(n_lines):
            ts = start + timedelta(seconds=i * 3 + rnd.randint(0, 2))
            ip = f"10.0.{rnd.randint(0, 20)}.{rnd.randint(1, 254)}"
            status = rnd.choices([200, 301, 404, 500], weights=[85, 5, 8, 2])[0]
            method = rnd.choice(["GET", "GET", "GET", "POST"])
            fh.write(f'{ip} - - [{ts:%d/%b/%Y:%H:%M:%S}] "{method} {rnd.choice(paths)} HTTP/1.1" '
                     f"{status} {rnd.randint(200, 50_000)}\n")
            if i % 500 == 0:
                fh.write("### log rotated marker, not a request ###\n")


# Step 1: Create a sample log file
generate_log("access.log", 60_000)

# Step 2: Parse every line
entries, skipped = [], 0
with open("access.log") as fh:
    for line in fh:
        match = LOG_PATTERN.match(line)
        if not match:
            skipped += 1
            continue
        record = match.groupdict()
        record["ts"] = datetime.strptime(record["ts"], "%d/%b/%Y:%H:%M:%S")
        record["status"] = int(record["status"])
        record["size"] = int(record["size"])
        entries.append(record)
print(f"Parsed {len(entries)} requests, skipped {skipped} malformed lines")

# Step 3: Status codes and top paths
status_counts = Counter(e["status"] for e in entries)
print("\nStatus codes:")
for status, count in sorted(status_counts.items()):
    print(f"  {status}: {count:6d} ({count / len(entries):.1%})")
print("\nTop 3 paths:", Counter(e["path"] for e in entries).most_common(3))

# Step 4: Errors per hour and the busiest client
errors_per_hour = defaultdict(int)
for e in entries:
    if e["status"] >= 500:
        errors_per_hour[e["ts"].strftime("%Y-%m-%d %H:00")] += 1
worst_hour = max(errors_per_hour, key=errors_per_hour.get)
print(f"\nHour with most 5xx errors: {worst_hour} ({errors_per_hour[worst_hour]})")
top_ip, top_hits = Counter(e["ip"] for e in entries).most_common(1)[0]
print(f"Busiest client: {top_ip} with {top_hits} requests")

# Step 5: Bandwidth summary
total_mb = sum(e["size"] for e in entries) / 1e6
print(f"\nTotal transferred: {total_mb:.1f} MB, mean response {total_mb * 1e6 / len(entries):.0f} bytes")
