import os
import signal


def handler(signum, frame):
    print("got signal", signal.Signals(signum).name)


signal.signal(signal.SIGUSR1, handler)
os.kill(os.getpid(), signal.SIGUSR1)
print("after kill")
print(signal.getsignal(signal.SIGUSR1) is handler)
