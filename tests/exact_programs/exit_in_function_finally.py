import sys


def main():
    try:
        print("in main")
        sys.exit(3)
    finally:
        print("finally runs")


main()
print("never")
