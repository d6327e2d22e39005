import sys
import traceback

traceback.print_stack(file=sys.stdout)
print(len(traceback.extract_stack()))
