import contextlib
import io
import sys

buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    print("hidden")
print(repr(buf.getvalue()))
saved = sys.stdout
sys.stdout = io.StringIO()
print("also hidden")
captured = sys.stdout.getvalue()
sys.stdout = saved
print(repr(captured))
