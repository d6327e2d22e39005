import sys

print("before exit")
sys.exit(256)
print("never")
