import sys

print("héllo wörld ✓ 日本語 🐍")
print(sys.stdout.encoding.lower().replace("-", ""), sys.getdefaultencoding())
print("é" * 3, file=sys.stderr)
print(ascii("naïve"), len("🐍"), "🐍".encode())
