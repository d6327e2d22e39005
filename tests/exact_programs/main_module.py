import sys
import __main__

x = 41
print(__main__.__dict__ is globals())
print(sys.modules["__main__"] is __main__)
__main__.x += 1
print(x)
del x
print("x" in globals())
