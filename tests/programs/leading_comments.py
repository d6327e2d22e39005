# expect: ok



# This program starts with comments and blank lines before any code.
# The chunker has to attach them to the first real statement.

#   indented-looking comment
# another one

GREETING = "leading comments are fine"


# a comment between statements
print(GREETING)
# trailing comment at the end
