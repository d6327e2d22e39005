# expect: ok
# Write files in the working directory, then read them back (text, lines, json, csv).
import csv
import json
import os

with open("notes.txt", "w", encoding="utf-8") as fh:
    for i in range(3):
        fh.write(f"line {i}: {'#' * i}\n")

with open("notes.txt", encoding="utf-8") as fh:
    lines = fh.read().splitlines()
print(len(lines), "lines:", lines)

with open("notes.txt", "a", encoding="utf-8") as fh:
    print("appended line", file=fh)
print("size:", os.path.getsize("notes.txt"))

config = {"name": "demo", "retries": 3, "tags": ["a", "b"]}
with open("config.json", "w") as fh:
    json.dump(config, fh, indent=2)
with open("config.json") as fh:
    print("round trip equal:", json.load(fh) == config)

with open("table.csv", "w", newline="") as fh:
    writer = csv.writer(fh)
    writer.writerow(["city", "temp"])
    writer.writerows([["Oslo", -3], ["Lima", 19], ["Cairo", 24]])
with open("table.csv", newline="") as fh:
    rows = list(csv.DictReader(fh))
print("warmest:", max(rows, key=lambda r: int(r["temp"]))["city"])
print(sorted(f for f in os.listdir(".") if f.endswith((".txt", ".json", ".csv"))))
