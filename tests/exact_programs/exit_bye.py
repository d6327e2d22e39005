import sys

print("before exit")
sys.exit("bye: a message")
print("never")
