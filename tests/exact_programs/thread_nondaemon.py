import threading
import time


def late():
    time.sleep(0.3)
    print("thread: printed after the main code ended")


threading.Thread(target=late).start()
print("main code done")
