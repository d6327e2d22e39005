# expect: ok
# A multi-line triple-quoted string at column 0 whose lines look like code.
import textwrap

TEMPLATE = """
def generated():
    return 1

if True:
print("this is text, not code")
    dedented = 'mixed' + "quotes"
"""

print(len(TEMPLATE.splitlines()), "template lines")
print(TEMPLATE.splitlines()[1])

report = f"""Report
======
items: {3 * 7}
ok:    {not False}
"""
print(report, end="")

print(textwrap.dedent('''\
    first
      second
    third'''))


def doc():
    """Docstring with a line at column 0 below.
value: not code
    """
    return doc.__doc__.count("\n")


print("docstring newlines:", doc())
