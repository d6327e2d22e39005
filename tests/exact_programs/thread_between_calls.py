import threading
import time


def background():
    time.sleep(0.05)
    print("background thread output")


t = threading.Thread(target=background, daemon=True)
t.start()
time.sleep(0.3)
print("main after sleep")
t.join()
print("joined")
