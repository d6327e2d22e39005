import sys

print("before exit")
sys.exit(None)
print("never")
