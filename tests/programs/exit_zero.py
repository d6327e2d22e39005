# expect: exit 0
# sys.exit(0) at top level stops the program successfully; nothing after it runs.
import sys

items = ["alpha", "beta", "gamma"]
for i, item in enumerate(items, start=1):
    print(i, item)

if len(items) < 5:
    print("nothing more to do, exiting early")
    sys.exit(0)

print("this line is never reached")
