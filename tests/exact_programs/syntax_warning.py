print("line 1")
x = 5
print(x is 5)
print("end")
