print("first")
a = 1
    b = 2
print("never")
