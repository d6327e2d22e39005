import subprocess
import sys

print("parent line written before the child, not flushed")
subprocess.run([sys.executable, "-c", "print('child')"])
print("parent after")
