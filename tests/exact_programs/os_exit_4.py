import os

print("flushed before os._exit", flush=True)
print("buffered: lost, as with python")
os._exit(4)
print("never")
