print("hello")
x = 6 * 7
print(x, end="!\n")
for i in range(3):
    print(i, i * i)
