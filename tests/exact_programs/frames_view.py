import inspect
import sys

frame = sys._getframe()
print(frame.f_back is None, frame.f_code.co_name, frame.f_globals is globals())
print(len(inspect.stack()))
