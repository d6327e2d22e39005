print("ran before the bad statement")
x = 1
return x
print("never")
