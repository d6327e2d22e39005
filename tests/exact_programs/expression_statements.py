1 + 1
"a string expression"
x = [1, 2]
x
print("only this is printed")
len(x)
