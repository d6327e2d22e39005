import warnings


def show(message, category, filename, lineno, file=None, line=None):
    print("custom:", category.__name__, message, lineno)


warnings.showwarning = show
warnings.warn("routed through showwarning")
