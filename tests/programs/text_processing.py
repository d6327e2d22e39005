# expect: ok
# String methods: split/join/strip, partition, translate, justification and wrapping.
import string
import textwrap

raw = "  The Zen of Python, by Tim Peters.  Beautiful is better than ugly!  "
clean = raw.strip()
print(repr(clean))
words = clean.lower().translate(str.maketrans("", "", string.punctuation)).split()
print(words)
print("title case:", clean.title()[:24])
print("vowels:", sum(ch in "aeiou" for ch in clean.lower()))
key, _, value = "timeout = 30 s".partition("=")
print(key.strip(), "->", value.strip())
print("|".join(w.center(8, ".") for w in words[:3]))
print("palindromes:", [w for w in ["level", "python", "noon"] if w == w[::-1]])
print(textwrap.fill(clean * 2, width=40))
acronym = "".join(w[0] for w in "portable network graphics".split()).upper()
print(acronym, "zfill:", "42".zfill(5), "startswith:", clean.startswith("The"))
print("count 'is':", clean.count(" is "), "find:", clean.find("Python"))
print(" ".join(reversed(words[:4])))
