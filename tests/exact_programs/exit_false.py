import sys

print("before exit")
sys.exit(False)
print("never")
