# expect: error KeyError line 16
# An uncaught KeyError raised inside a method, after a caught one.
class Catalog:
    def __init__(self):
        self.prices = {"tea": 3.5, "coffee": 4.0}

    def price(self, name, default=None):
        try:
            return self.prices[name]
        except KeyError:
            if default is not None:
                return default
            raise

    def strict_total(self, names):
        return sum(self.prices[n] for n in names)


cat = Catalog()
print(cat.price("tea"), cat.price("cocoa", default=0.0))
print("total:", cat.strict_total(["tea", "coffee"]))
print("total:", cat.strict_total(["tea", "juice", "coffee"]))
print("unreachable")
