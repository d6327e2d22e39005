# expect: error RuntimeError line 11
# An uncaught exception raised with `raise ... from ...` inside a function.
import json


def load_settings(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        print("bad JSON at column", err.colno)
        raise RuntimeError("settings could not be parsed") from err


def settings_or_fail(text):
    return load_settings(text)["mode"]


print(load_settings('{"mode": "fast"}'))
print(settings_or_fail('{"mode": "safe"}'))
print(settings_or_fail('{"mode": safe}'))
