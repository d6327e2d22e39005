import os
import sys

print("before close", flush=True)
os.close(1)
print("after close: cannot be written")
print("on stderr", file=sys.stderr)
