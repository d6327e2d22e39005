import atexit

atexit.register(print, "atexit runs after the traceback")
print("main")
1 / 0
