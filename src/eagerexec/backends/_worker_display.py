"""eagerexec worker, notebook output: rich results as MIME bundles, without IPython.

Loaded by ``_worker.py`` (whose docstring is the protocol's reference) as a private module; stdlib
only, Python 3.7 syntax, ASCII only. Only a call that asks for notebook mode ("nb") turns it on,
once for the session (``enable``):

* the REPL rule: each top-level expression statement of the program (never a docstring) is
  compiled as a call of ``HOOK`` on its value (``rewrite``: an AST edit that keeps every node's
  position, so line numbers, tracebacks and carets are the ones of the plain statement); the
  hook shows a value that is not None as a ``result``;
* ``display(*objs)`` in builtins (unless the program's builtins already have one) shows each
  object as a ``display``;
* ``matplotlib.pyplot.show`` shows each open figure as a PNG (saved in the figures directory
  too, its path listed in the reply's "f") and closes them, as Jupyter's inline backend does.

Plain mode (``watch_show``, from the start) patches ``plt.show`` too, but keeps its meaning: the
original runs (under Agg, what ``python prog.py`` does), and then the figures changed since their
last capture are saved right away, left open (``Worker._save_figures``). A figure is drawn when
the program shows it, inside that statement's call, where eager mode hides it behind generation;
only the figures never shown are drawn after the program's last statement.

An object renders through IPython's conventions (``bundle_of``): ``_repr_mimebundle_`` first,
then each ``_repr_*_`` method for the types still missing; ``text/plain`` is always there
(``repr``); binary data is base64. A method that raises is skipped with one line on stderr.
Each bundle goes to the host as a ``D`` frame after the program's buffered output is flushed,
and the main thread waits for the host's acknowledgement (``send``), so the host keeps it in
order with stdout and stderr.
"""

import ast
import base64
import builtins
import io
import os
import re
import sys
import threading

from _eagerexec_worker_io import (
    _HEADER,
    _AfterImport,
    _captured,
    _encode,
    _open_figures,
    _state,
    _type_name,
    _unchanged,
)

HOOK = "__eagerexec_result__"

# IPython's formatters, in its order; text/plain is repr().
_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
)
_TEXT = ("text/", "image/svg+xml", "application/javascript")


class _Session:
    worker = None  # the Worker, once notebook mode is on
    plain = None  # the Worker in plain mode (watch_show): plt.show() saves the changed figures
    show = None  # pyplot's own show, once patched


def _is_str(node):
    if type(node).__name__ == "Str":  # Python 3.7
        return True
    return isinstance(node, getattr(ast, "Constant", ())) and isinstance(node.value, str)


def rewrite(tree, start):
    """Wrap each top-level expression statement of ``tree`` that starts at or after line
    ``start`` in a call of ``HOOK`` (a leading string, the docstring, is left alone). Returns
    whether anything changed."""
    changed = False
    for i, node in enumerate(tree.body):
        if not isinstance(node, ast.Expr) or node.lineno < start:
            continue
        if i == 0 and _is_str(node.value):
            continue
        value = node.value
        func = ast.copy_location(ast.Name(id=HOOK, ctx=ast.Load()), value)
        node.value = ast.copy_location(ast.Call(func=func, args=[value], keywords=[]), value)
        changed = True
    return changed


# A line that cannot begin a top-level expression statement: blank, indented (a body or a
# continuation), a comment, a decorator, a compound statement's header (its one-line body is
# not top level), or a simple statement that is not an expression, with no ";" after which an
# expression statement could follow. Every top-level statement begins at column 0 (or after a
# ";"), so a part whose lines all match has none: it compiles from its text, as in plain mode.
_QUIET = re.compile(
    r"(?:[ \t\f]|#|@|\r|\n|$"
    r"|(?:async[ \t]+)?(?:def|for|with)\b|(?:class|if|elif|else|while|try|except|finally)\b"
    r"|(?:import|from|del|pass|global|nonlocal|assert|raise)\b[^;]*$"
    r"|[A-Za-z_][\w.]*[ \t]*(?:\[[^\]]*\][ \t]*)?(?:[-+*/%&|^@]|//|\*\*|>>|<<)?=(?!=)[^;]*$)"
)


def _quiet(text, start):
    """No line of ``text`` from line ``start`` on can begin an expression statement."""
    lines = text.split("\n")
    for line in lines[start - 1 :]:
        if not _QUIET.match(line):
            return False
    return True


def compile_showing(text, filename, flags, start):
    """``text`` compiled with the REPL rule (see ``rewrite``), or None when compiling the tree
    fails or when the text has no expression statement for sure (``_QUIET``): the caller then
    compiles the text itself (Python's own error and its text). A syntax error of the parser is
    raised as compile() raises it."""
    if _quiet(text, start):
        return None
    tree = compile(text, filename, "exec", flags | ast.PyCF_ONLY_AST, True)
    rewrite(tree, start)
    try:
        return compile(tree, filename, "exec", flags, True)
    except SyntaxError:
        return None


def watch_show(worker):
    """Plain mode: ``plt.show()`` runs pyplot's own and then saves the changed figures now."""
    _Session.plain = worker
    _AfterImport.install("matplotlib.pyplot", _patch_pyplot)


def enable(worker):
    """Turn notebook mode on for the session (idempotent)."""
    if _Session.worker is not None:
        return
    _Session.worker = worker
    setattr(builtins, HOOK, _show_result)
    if not hasattr(builtins, "display"):
        builtins.display = display
    # plt.show is patched from the start (watch_show); with _Session.worker set it shows inline


# -- rendering ------------------------------------------------------------------------------
def _warn(obj, what, exc):
    try:
        sys.stderr.write("eagerexec: %s of %s failed: %s: %s\n" % (what, type(obj).__name__, _type_name(exc), exc))
    except Exception:
        pass


def _value(mime, value):
    """A bundle value as JSON can carry it: bytes as base64 (text types decoded), None dropped."""
    if isinstance(value, tuple) and len(value) == 2:  # (data, metadata)
        value = value[0]
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        if mime.startswith(_TEXT):
            return bytes(value).decode("utf-8", "replace")
        return base64.b64encode(bytes(value)).decode("ascii")
    if mime == "application/json" or mime.endswith("+json"):
        _encode(value)  # raises when JSON cannot carry it
        return value
    return value if isinstance(value, str) else str(value)


def _figure_png(obj):
    figure = getattr(sys.modules.get("matplotlib.figure"), "Figure", None)
    if figure is None or not isinstance(obj, figure):
        return None
    buf = io.BytesIO()
    obj.savefig(buf, format="png")
    return buf.getvalue()


def bundle_of(obj):
    """The MIME bundle of ``obj`` (see the module docstring)."""
    data = {}
    if not isinstance(obj, type):  # a class's _repr_*_ are unbound methods: text only
        try:
            method = getattr(obj, "_repr_mimebundle_", None)
        except Exception:
            method = None
        if callable(method):
            try:
                got = method(include=None, exclude=None)
                if isinstance(got, tuple):
                    got = got[0]
                for mime, value in (got or {}).items():
                    value = _value(mime, value) if isinstance(mime, str) else None
                    if value is not None:
                        data[mime] = value
            except Exception as exc:
                _warn(obj, "_repr_mimebundle_", exc)
        for mime, name in _METHODS:
            if mime in data:
                continue
            try:
                method = getattr(obj, name, None)
            except Exception:
                continue
            if not callable(method):
                continue
            try:
                value = _value(mime, method())
            except Exception as exc:
                _warn(obj, name, exc)
                continue
            if value is not None:
                data[mime] = value
        if "image/png" not in data:
            try:
                png = _figure_png(obj)
            except Exception as exc:
                _warn(obj, "savefig", exc)
                png = None
            if png is not None:
                data["image/png"] = _value("image/png", png)
    if not isinstance(data.get("text/plain"), str):
        try:
            data["text/plain"] = repr(obj)
        except Exception as exc:
            _warn(obj, "repr", exc)
            data["text/plain"] = "<%s object>" % type(obj).__name__
    return data


def send(kind, bundle):
    """Send one bundle to the host (``D`` frame) after flushing the program's output. From the
    main thread (the program's code, a call's figures) the frame asks for an acknowledgement
    ("w") and the worker waits for it (an ``A`` frame on IN): the host reads what the program
    wrote before the bundle, and nothing written after it, before it shows the bundle. A
    background thread does not wait (its bundles are in order with its own output only)."""
    worker = _Session.worker
    if worker is None or os.getpid() != worker.pid:
        return
    worker._flush()
    message = {"i": _state.call_id, "kind": kind, "data": bundle}
    wait = threading.current_thread() is threading.main_thread()
    if wait:
        message["w"] = 1
    try:
        with worker.send_lock:
            worker.send(b"D", message)
    except (OSError, ValueError, TypeError):  # the host is gone, or a bundle JSON cannot carry
        return
    if wait:
        _await_ack(worker)


def _await_ack(worker):
    """Wait for the host's ``A`` frame (an interrupt may cut the wait: the main loop then skips
    the late one); any other frame is put back for the main loop."""
    body = worker.recv()
    if body is not None and body[:1] != b"A":
        worker.buf[0:0] = _HEADER.pack(len(body)) + body


def _show_result(value):
    if value is not None:
        send("result", bundle_of(value))


def display(*objs, **kwargs):
    """Show each object as notebooks do (``raw=True``: each object is already a MIME bundle)."""
    raw = kwargs.get("raw", False)
    for obj in objs:
        if raw and isinstance(obj, dict):
            bundle = {}
            for mime, value in obj.items():
                try:
                    value = _value(mime, value) if isinstance(mime, str) else None
                except Exception as exc:
                    _warn(obj, "display(raw=True) of %s" % mime, exc)
                    value = None
                if value is not None:
                    bundle[mime] = value
            bundle.setdefault("text/plain", "")
            send("display", bundle)
        else:
            send("display", bundle_of(obj))


# -- matplotlib -----------------------------------------------------------------------------
def show_figures(worker, changed_only, close):
    """Save each open figure as a PNG in the figures directory and show it (``changed_only``:
    only those edited since their last capture, as the plain capture does); ``close``: close
    them all after (``plt.show``). Returns the paths saved."""
    paths = []
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return paths
    for fig in _open_figures():
        if changed_only and _unchanged(fig):
            continue
        try:
            path = worker._figure_path()
            fig.savefig(path, format="png")
            _captured(fig)
            with open(path, "rb") as f:
                png = f.read()
        except Exception as exc:
            _warn(fig, "savefig", exc)
            continue
        paths.append(path)
        send("display", {"image/png": _value("image/png", png), "text/plain": _text(fig)})
    if close:
        try:
            plt.close("all")
        except Exception:
            pass
    return paths


def _text(obj):
    try:
        return repr(obj)
    except Exception:
        return "<Figure>"


def _pyplot_show(*args, **kwargs):
    worker = _Session.worker
    if worker is not None:  # notebook mode: show them inline and close them
        worker.shown.extend(show_figures(worker, False, True))
        return None
    value = _Session.show(*args, **kwargs) if _Session.show is not None else None
    plain = _Session.plain
    plt = sys.modules.get("matplotlib.pyplot")
    if plain is not None and plt is not None:
        plain.shown.extend(plain._save_figures(plt))
    return value


def _patch_pyplot(module):
    try:
        original = module.show
        if getattr(original, "_eagerexec", False):
            return
        _Session.show = original
        _pyplot_show.__doc__ = original.__doc__
        _pyplot_show._eagerexec = True
        module.show = _pyplot_show
    except Exception:
        pass
