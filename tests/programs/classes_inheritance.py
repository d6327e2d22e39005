# expect: ok
# Classes, inheritance, super(), properties, class attributes and dunder methods.
class Shape:
    count = 0

    def __init__(self, name):
        self.name = name
        Shape.count += 1

    def area(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, area={self.area():.2f})"


class Rectangle(Shape):
    def __init__(self, w, h, name="rect"):
        super().__init__(name)
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h


class Square(Rectangle):
    def __init__(self, side):
        super().__init__(side, side, name="square")

    @property
    def side(self):
        return self.w


class Circle(Shape):
    def __init__(self, r):
        super().__init__("circle")
        self.r = r

    def area(self):
        return 3.14159 * self.r**2


shapes = [Rectangle(2, 3), Square(4), Circle(1.5)]
for s in shapes:
    print(s)
print("created:", Shape.count)
print("square side:", shapes[1].side)
print("MRO:", [c.__name__ for c in Square.__mro__])
print("is Shape:", all(isinstance(s, Shape) for s in shapes))
print("largest:", max(shapes, key=lambda s: s.area()).name)
