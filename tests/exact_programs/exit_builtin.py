print("using the site builtin exit()")
exit(5)
