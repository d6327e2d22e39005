# expect: exit 2
# The classic `sys.exit(main())` inside a __main__ guard, with main() returning 2.
import sys


def check(values):
    problems = [v for v in values if v < 0]
    for p in problems:
        print("negative value:", p)
    return problems


def main():
    data = [4, -1, 7, -3, 0]
    print("checking", len(data), "values")
    if check(data):
        print("validation failed")
        return 2
    print("all good")
    return 0


if __name__ == "__main__":
    sys.exit(main())
