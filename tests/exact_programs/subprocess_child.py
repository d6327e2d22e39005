import subprocess
import sys

print("parent before", flush=True)
subprocess.run([sys.executable, "-c", "print('child stdout'); import sys; print('child stderr', file=sys.stderr)"])
out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout
print("captured", out.strip(), flush=True)
subprocess.run(["sh", "-c", "echo shell says hi"])
print("parent after")
