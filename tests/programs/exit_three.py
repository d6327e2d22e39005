# expect: exit 3
# sys.exit(3) at top level: the process exits with status 3 and no traceback.
import sys


def validate(record):
    return record.get("id") is not None and record.get("score", -1) >= 0


records = [{"id": 1, "score": 5}, {"id": 2, "score": -4}, {"score": 9}]
bad = [r for r in records if not validate(r)]
print(f"{len(bad)} invalid records of {len(records)}")
for r in bad:
    print("invalid:", r)
sys.exit(3)
print("not reached")
