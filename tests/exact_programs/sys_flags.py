import sys

print(sys.flags.optimize, sys.flags.interactive, sys.flags.inspect, sys.flags.dont_write_bytecode)
print(hasattr(sys, "ps1"), sys.flags.no_user_site, sys.flags.isolated)
print(sys.argv, type(sys.orig_argv).__name__ if hasattr(sys, "orig_argv") else "none")
