class AppError(Exception):
    pass


try:
    int("x")
except ValueError as exc:
    raise AppError("could not parse") from exc
