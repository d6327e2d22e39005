import sys

print("before exit")
sys.exit(True)
print("never")
