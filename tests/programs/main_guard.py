# expect: ok
# A script with helpers and an `if __name__ == "__main__":` guard.
import sys


def word_lengths(text):
    return {w: len(w) for w in text.split()}


def summarize(lengths):
    longest = max(lengths, key=lengths.get)
    return f"{len(lengths)} words, longest {longest!r} ({lengths[longest]})"


def main(argv):
    text = "the quick brown fox jumps over the lazy dog"
    lengths = word_lengths(text)
    print(lengths)
    print(summarize(lengths))
    print("extra args:", len(argv) - 1)
    return 0


print("module name:", __name__)
if __name__ == "__main__":
    status = main(sys.argv[:1])
    print("status", status)
else:
    print("imported, not run")
