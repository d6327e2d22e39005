# expect: ok
# Module-level state built up and mutated across many top-level statements.
counter = 0
log = []
counter += 5
log.append(("add", 5))
counter *= 3
log.append(("mul", 3))


class Config:
    debug = False
    level = 1


Config.level += 1
Config.debug = not Config.debug
settings = {"level": Config.level}
settings.update(debug=Config.debug)
temp = [1, 2, 3]
del temp[0]
alias = temp
alias.append(4)
print(counter, log)
print(settings, temp)
del alias
print("alias" in globals(), "temp" in globals())
x, *rest = range(5)
(a, b), c = (1, 2), 3
print(x, rest, a, b, c)
