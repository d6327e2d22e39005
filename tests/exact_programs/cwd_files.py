import os

with open("out.txt", "w") as f:
    f.write("data")
print(sorted(os.listdir(".")))
print(open("out.txt").read())
