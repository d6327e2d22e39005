s = "a b"
t = "c d"
print(repr(s), repr(t))
# a comment with   inside
print(len(s), len(t))
u = """
 
"""
print(repr(u))
