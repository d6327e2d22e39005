# expect: ok
# Exceptions that are raised and caught: custom types, chaining, re-raise inside try.
class ConfigError(Exception):
    pass


def load(key, table):
    try:
        return table[key]
    except KeyError as exc:
        raise ConfigError(f"missing key {key!r}") from exc


table = {"host": "localhost", "port": 8080}
for key in ["host", "user", "port"]:
    try:
        print(key, "=", load(key, table))
    except ConfigError as err:
        print("error:", err, "| cause:", type(err.__cause__).__name__)

try:
    int("not a number")
except (TypeError, ValueError) as err:
    print("conversion failed:", err)

try:
    try:
        [][1]
    except IndexError:
        print("inner handler, re-raising")
        raise
except LookupError as err:
    print("outer handler got", type(err).__name__)

results = []
for x in [2, 0, 5]:
    try:
        results.append(10 // x)
    except ZeroDivisionError:
        results.append(None)
print(results)
