import sys

print("before exit")
sys.exit(-1)
print("never")
