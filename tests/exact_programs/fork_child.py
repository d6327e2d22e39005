import os
import sys

print("before fork", flush=True)
pid = os.fork()
if pid == 0:
    print("child says hi", flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent after the child")
