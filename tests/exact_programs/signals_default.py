import signal

print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
print(signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGPIPE), signal.getsignal(signal.SIGCHLD))
print(signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGALRM))
