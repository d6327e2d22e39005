"""eagerexec worker, part 3 of 3: compiling and running a call, errors, the program's end.

Loaded by ``_worker.py`` (whose docstring is the protocol's reference) as a private module; stdlib
only, Python 3.7 syntax (no walrus, no positional-only parameters), ASCII only. ``Execution`` is
the ``Worker``'s half that runs the program: the program's text and line numbers, compiling each
part with whole-program lines and ``__future__`` flags, running the parts, describing an uncaught
exception (the worker's frames removed: ``_strip``), exit statuses, and what Python does at exit.
"""

import __future__

import ast
import atexit
import gc
import linecache
import os
import re
import sys
import threading
import time
import traceback
import types

import _eagerexec_worker_display as _nb
from _eagerexec_worker_io import _HEADER, _real_exit, _state, _type_name

_FUTURE_MASK = 0
for _name in __future__.all_feature_names:
    _FUTURE_MASK |= getattr(__future__, _name).compiler_flag
# Names a code object made only of a docstring and ``from __future__`` imports can use.
_PREAMBLE_NAMES = frozenset(["__future__", "__doc__"] + list(__future__.all_feature_names))
_CAN_SHIFT = hasattr(types.CodeType, "replace")  # 3.8+; 3.7 compiles behind blank lines
_OLD_PARSER = sys.version_info < (3, 10)
# 3.13+ stores a class's first line as a constant of its body (``__firstlineno__``, read by
# inspect.getsource): code with a class is compiled behind blank lines, never shifted.
_CLASS_LINES = sys.version_info >= (3, 13)
_KI_STATUS = -2 if sys.version_info >= (3, 8) else 1  # uncaught KeyboardInterrupt
# Python's lines end at \n, \r\n or \r only (str.splitlines also splits at \f, \x1c, U+2028...).
# The first word of a source after blank and comment lines (a name, not a string's prefix: the
# character after it is checked too).
_FIRST_WORD = re.compile(r"(?:[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n))*[ \t\f]*([A-Za-z_][A-Za-z0-9_]*)")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
# The worker's own files, whose frames never show in the program's tracebacks (``_worker.py``
# adds its own name as its frames spell it).
_FILES = set(os.path.join(os.path.dirname(__file__), name + ".py") for name in ("_worker_io", "_worker_display", "_worker_exec"))


def _write_at(fd, data, offset):
    """Write all of ``data`` at ``offset`` of file ``fd``; returns its length."""
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)
    return done


def _split_lines(text):
    return _LINE.findall(text)


def _as_read_from_a_file(error, last_line):
    """Python < 3.10 reports an unexpected EOF in a file one line past its last line, with an
    empty text (3.9: the last line's text with its first character overwritten by NUL);
    ``compile()`` of a string reports the last line itself."""
    if error.lineno != last_line:
        return
    error.lineno = last_line + 1
    text = error.text or ""
    error.text = "\x00" + text[1:] if sys.version_info >= (3, 9) and text else ""


def _is_str(node):
    if type(node).__name__ == "Str":  # Python 3.7
        return True
    return isinstance(node, getattr(ast, "Constant", ())) and isinstance(node.value, str)


def _shift(code, delta):
    consts = tuple(_shift(c, delta) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)


def _exit_status(code):
    """The status ``python prog.py`` exits with for ``sys.exit(code)``, and the text it prints."""
    if code is None:
        return 0, None
    if isinstance(code, int):
        if -(1 << 63) <= code < (1 << 63):
            return code & 0xFF, None
        return 255, None
    try:
        text = str(code)
    except Exception:
        text = ""
    return 1, text



class _WorkerFault(Exception):
    """The worker failed while preparing the program's code (``args[0]``: what it raised)."""


# What compile() itself raises for a program's source (anything else is the worker's fault).
_COMPILE_ERRORS = (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError, KeyboardInterrupt)


_warned = []  # compile-time warnings caught while _state.compiling


class _Refs:
    show = None  # warnings._showwarnmsg as it was


def _catch_compile_warning(msg):
    """``warnings._showwarnmsg`` while the worker compiles: keep the warning to show it later at
    its whole-program line; otherwise show it as Python does."""
    if _state.compiling and threading.current_thread() is threading.main_thread():
        _warned.append(msg)
    else:
        _Refs.show(msg)


def _strip(exc, seen=None):
    """Remove the worker's frames from ``exc``'s traceback (and its chained exceptions')."""
    seen = seen if seen is not None else set()
    if exc is None or id(exc) in seen:
        return exc
    seen.add(id(exc))
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename not in _FILES:
            frames.append(tb)
        tb = tb.tb_next
    new = None
    for tb in reversed(frames):
        new = types.TracebackType(new, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    exc.__traceback__ = new
    _strip(exc.__cause__, seen)
    _strip(exc.__context__, seen)
    return exc


class Execution:
    """The ``Worker``'s calls and the program's end (a mixin: ``Worker.__init__`` sets the attributes)."""

    notebook = False  # notebook output is on (a request said "nb"; see _worker_display)
    shown = ()  # the figure paths plt.show() saved during the current call (notebook mode)

    # -- the program's text ---------------------------------------------------------------
    def _record_program(self, source, first_line):
        """Keep the program's text: lines for tracebacks (linecache), the file for the program
        (``__file__``). Written with ``pwrite`` at offsets kept here: one system call a call."""
        have = len(self.lines)
        new = _split_lines(source)
        if new and not new[-1].endswith(("\n", "\r")):
            new[-1] += "\n"
        if first_line <= 1:
            self.beginning, self.doc_seen = True, False  # the host starts the program again
        if first_line - 1 == have:
            self.lines.extend(new)
            self.program_size += _write_at(self.program_fd, "".join(new).encode("utf-8"), self.program_size)
        else:
            del self.lines[first_line - 1 :]
            self.lines.extend(["\n"] * (first_line - 1 - len(self.lines)))
            self.lines.extend(new)
            # Rewritten in place, cut only when it got shorter (a truncate costs more than the
            # rest of a trivial call; the host starts every run's program again at line 1).
            size = _write_at(self.program_fd, "".join(self.lines).encode("utf-8"), 0)
            if self.program_size > size:
                os.ftruncate(self.program_fd, size)
            self.program_size = size
        linecache.cache[self.program] = (0, None, self.lines, self.program)

    def _parts(self, source, first_line, cuts):
        """Split ``source`` at the whole-program lines ``cuts`` (ignored unless increasing and
        inside the source): [(text, first line), ...]."""
        if not cuts or not all(isinstance(c, int) for c in cuts):
            return [(source, first_line)]
        lines = _split_lines(source)
        bounds = [c - first_line for c in cuts]
        if bounds != sorted(set(bounds)) or bounds[0] <= 0 or bounds[-1] >= len(lines):
            return [(source, first_line)]
        starts = [0] + bounds
        ends = bounds + [len(lines)]
        return [("".join(lines[a:b]), first_line + a) for a, b in zip(starts, ends)]

    # -- compiling ------------------------------------------------------------------------
    def _compile(self, source, first_line):
        """Compile one part with whole-program line numbers and ``__future__`` flags.

        Code objects are shifted (cheap) where ``CodeType.replace`` exists; on Python 3.7, for
        a class on 3.13+ (see _CLASS_LINES), on a SyntaxError (so that its line is right), and
        where the part must not be read as the start of a file, the part is compiled behind
        blank lines instead, after a ``0`` statement in the last case: then a ``from __future__`` import is refused and a leading
        string is not a docstring, exactly as in the whole file. Compile-time warnings are
        caught and shown at their whole-program lines."""
        flags = self.flags
        del _warned[:]
        delta = 0
        _state.compiling = True
        try:
            late = not self.beginning and first_line > 1
            if late and "__future__" in source:
                code = self._compile_late(source, first_line, flags)
            else:
                code = self._compile_shifted(source, first_line, flags)
                if _CAN_SHIFT and first_line > 1 and not isinstance(code, SyntaxError):
                    delta = first_line - 1
                no_doc = late or (self.doc_seen and first_line > 1)
                if no_doc and "__doc__" in getattr(code, "co_names", ()):
                    code = self._compile_late(source, first_line, flags)
                    delta = 0
        finally:
            _state.compiling = False
        if _warned:
            self._show_warnings(delta)
        if isinstance(code, BaseException):
            if _OLD_PARSER and code.msg == "unexpected EOF while parsing":
                _as_read_from_a_file(code, first_line + len(_split_lines(source)) - 1)
            raise code
        self.flags |= code.co_flags & _FUTURE_MASK
        if self.beginning:
            self._note_preamble(code, source)
        return code

    def _compile_shifted(self, source, first_line, flags):
        """The code object, or the SyntaxError (raised outside any handler: no chaining)."""
        if first_line > 1 and (not _CAN_SHIFT or (_CLASS_LINES and "class" in source)):
            return self._compile_padded("\n" * (first_line - 1) + source, flags)
        try:
            code = self._compile_text(source, flags, 1)
        except SyntaxError as exc:
            if first_line <= 1:
                return exc
        else:
            return _shift(code, first_line - 1) if first_line > 1 else code
        del _warned[:]  # compiled again below: each warning is caught again
        return self._compile_padded("\n" * (first_line - 1) + source, flags)

    def _compile_late(self, source, first_line, flags):
        return self._compile_padded("\n" * (first_line - 2) + "0\n" + source, flags, first_line)

    def _compile_padded(self, text, flags, start=None):
        """``text`` compiled (the program's part starts at line ``start``, default: after the
        leading blank lines), or the SyntaxError."""
        if start is None:
            start = len(text) - len(text.lstrip("\n")) + 1
        try:
            return self._compile_text(text, flags, start)
        except SyntaxError as exc:
            return exc

    def _compile_text(self, text, flags, start):
        """compile(), with the REPL rule in notebook mode for the statements from line ``start``
        on (``_worker_display.rewrite``: never the padding's ``0``)."""
        if self.notebook:
            mark = len(_warned)
            code = _nb.compile_showing(text, self.program, flags, start)
            if code is not None:
                return code
            del _warned[mark:]  # when it was parsed: compiled again, each warning caught again
        return compile(text, self.program, "exec", flags, True)

    def _note_preamble(self, code, source):
        """Is the program still at its beginning: nothing but a docstring (noted) and
        ``__future__`` imports?"""
        self.beginning = False
        if not _PREAMBLE_NAMES.issuperset(code.co_names):
            return
        first = _FIRST_WORD.match(source)
        if first is not None and first.group(1) != "from" and source[first.end() : first.end() + 1] not in ("'", '"'):
            return  # it opens with a statement that is neither a string nor ``from`` (``pass``)
        try:
            body = ast.parse(source).body
        except SyntaxError:
            return
        doc = self.doc_seen
        for i, node in enumerate(body):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            if i == 0 and not doc and isinstance(node, ast.Expr) and _is_str(node.value):
                doc = True
                continue
            return
        self.beginning, self.doc_seen = True, doc

    def _show_warnings(self, delta):
        """Show the compile-time warnings caught, as Python shows them (they already passed the
        filters); one the filters turn into an error is the SyntaxError Python makes of it."""
        caught = list(_warned)
        del _warned[:]
        for msg in caught:
            msg.lineno = (msg.lineno or 0) + delta
            if _Refs.show is not None:
                _Refs.show(msg)

    # -- a call ---------------------------------------------------------------------------
    def run(self, req, probe=None):
        """Run request ``req``; returns its reply (None for ``probe``: (code, namespace) run
        instead of the request's code, through the same frames)."""
        source = req.get("src", "")
        first_line = int(req.get("line", 1))
        if not isinstance(source, str):
            raise TypeError("src must be a string")
        end = bool(req.get("end"))
        show = bool(req.get("show"))
        if req.get("nb") and not self.notebook:
            self.notebook = True
            _nb.enable(self)
        self.shown = []  # figures plt.show() saved during the call
        try:
            self._record_program(source, first_line)
        except Exception:
            pass
        parts = self._parts(source, first_line, req.get("cuts"))
        times = []
        st = _state
        st.call_id = req["i"]
        st.replied = False
        error = None
        started = st.started = mark = time.monotonic()
        try:
            st.running = True
            try:
                codes = []
                for text, line in parts:
                    try:
                        codes.append(self._compile(text, line))
                    except _COMPILE_ERRORS:
                        raise
                    except Exception as exc:
                        raise _WorkerFault(exc)
                ns = self.ns
                if probe is not None:
                    codes, ns = [probe[0]], probe[1]
                # "tp": the host times each part on its own: say when each later part starts
                tell = req.get("tp") and len(codes) > 1
                for code in codes:
                    if tell and times:
                        self._part_starts(req["i"], len(times))
                    exec(code, ns)
                    now = time.monotonic()
                    times.append([mark, now])
                    mark = now
            finally:
                st.running = False
        except BaseException as exc:
            error = exc
            times.append([mark, time.monotonic()])
        ended = time.monotonic()
        if isinstance(error, _WorkerFault):
            raise error.args[0]
        if probe is not None:
            return None
        if os.getpid() != self.pid:  # a forked child finished the call's code
            if error is not None or end or not self.forwarded:
                self._end_child(error)
            self._flush()  # it goes on with the requests its parent forwards; it never replies
            return {"i": req["i"], "s": started, "e": ended, "err": None, "x": None, "f": [], "t": False}
        status, err = (None, None) if error is None else self._uncaught(error, show)
        del error
        # What the program would exit with if it ended here (None: it did not stop).
        stop = status if status is not None else (err.pop("_status") if err is not None else None)
        save = req.get("fig", True)
        figures = self.shown + self._after_call(save and not self.notebook)  # before atexit closes them
        if self.notebook:  # plt.show()'s figures, then those left open, as bundles too
            figures = self.shown + (_nb.show_figures(self, True, False) if save else [])
        if end:
            if stop is None:
                stop = self.status if self.status is not None and not source.strip() else 0
            status = self._end_program(stop)
            ended = time.monotonic()
        elif stop is not None or source.strip():
            self.status = stop
        reply = {"i": req["i"], "s": started, "e": ended, "err": err, "x": status, "f": figures, "t": False}
        if len(parts) > 1:
            reply["p"] = times
        if end:
            reply["q"] = 1
        return reply

    def _part_starts(self, call_id, k):
        """The ``P`` frame: part ``k`` of the call starts (a forked child never sends it)."""
        if os.getpid() == self.pid:
            body = b'P{"i":%d,"k":%d}' % (call_id, k)
            with self.send_lock:
                os.write(self.wfd, _HEADER.pack(len(body)) + body)

    def _uncaught(self, exc, show):
        """(exit status or None, error dict or None) for an exception the program did not catch.

        The status is set for SystemExit only (the error dict then holds the rest); the dict's
        ``_status`` is what the program would exit with (removed before it is sent)."""
        _strip(exc)
        if isinstance(exc, SystemExit):
            status, text = _exit_status(exc.code)
            if text is not None:
                stream = sys.stderr
                try:
                    stream.write(text + "\n")
                except Exception:
                    pass
            if status == 0:
                return 0, None
            err = {"type": "SystemExit", "message": str(exc.code), "traceback": "", "frames": []}
            return status, err
        err = self._describe(exc)
        err["_status"] = _KI_STATUS if isinstance(exc, KeyboardInterrupt) else 1
        hook = sys.excepthook
        if show or hook is not sys.__excepthook__:
            self._print_exception(exc)
            err["printed"] = True
        return None, err

    def _print_exception(self, exc):
        """What Python does with an uncaught exception: ``sys.excepthook`` (and its own errors)."""
        hook = getattr(sys, "excepthook", None)
        try:
            if hook is None:
                raise RuntimeError("lost sys.excepthook")
            hook(type(exc), exc, exc.__traceback__)
        except BaseException as failure:
            _strip(failure)
            try:
                sys.stderr.write("Error in sys.excepthook:\n")
                traceback.print_exception(type(failure), failure, failure.__traceback__)
                sys.stderr.write("\nOriginal exception was:\n")
                traceback.print_exception(type(exc), exc, exc.__traceback__)
            except Exception:
                pass

    def _describe(self, exc):
        tb = exc.__traceback__
        try:
            frames = traceback.extract_tb(tb)
            text = "".join(traceback.TracebackException(type(exc), exc, tb).format())
        except Exception:
            frames = []
            text = "%s: %s\n" % (_type_name(exc), exc)
        line = None
        line_text = None
        for fs in frames:
            if fs.filename == self.program:
                line, line_text = fs.lineno, fs.line
        if isinstance(exc, SyntaxError) and exc.filename == self.program:
            line = exc.lineno
            line_text = (exc.text or "").strip() or None
        try:  # what Python prints after the type (a SyntaxError's str() adds "(file, line N)")
            message = exc.msg if isinstance(exc, SyntaxError) and isinstance(exc.msg, str) else str(exc)
        except Exception:
            message = "<unprintable %s>" % type(exc).__name__
        return {
            "type": _type_name(exc),
            "message": message,
            "traceback": text,
            "line": line,
            "line_text": line_text,
            "frames": [[fs.filename, fs.lineno, fs.name, fs.line] for fs in frames],
        }

    # -- the end of the program -----------------------------------------------------------
    def _end_program(self, status):
        """What Python does at exit: wait for non-daemon threads, run atexit handlers, flush
        sys.stdout/sys.stderr, clear ``__main__`` (``_clear_main``), flush again. Returns the
        exit status (120 when stdout cannot be flushed)."""
        _state.running = True
        try:
            try:
                threading._shutdown()
            except BaseException:
                pass
            try:
                atexit._run_exitfuncs()
            except BaseException:
                pass
            if not self._flush_std():
                status = 120
            self._clear_main()
        finally:
            _state.running = False
        if not self._flush_std(False):  # Python says nothing the second time
            status = 120
        return status

    def _clear_main(self):
        """Python's last step before it exits: ``__main__`` leaves ``sys.modules`` and its names
        are cleared (single-underscore names first, ``__builtins__`` kept), so the objects they
        held are finalized (``__del__``) now; output that makes is flushed after."""
        ns = self.ns
        if sys.modules.get("__main__") is not None and sys.modules["__main__"].__dict__ is ns:
            del sys.modules["__main__"]
        for everything in (False, True):
            for key in list(ns):
                if key == "__builtins__" or (not everything and not (key[:1] == "_" and key[1:2] != "_")):
                    continue
                try:
                    ns[key] = None
                except BaseException:
                    pass
        try:
            gc.collect()
        except BaseException:
            pass

    def _flush_std(self, report=True):
        ok = True
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name, None)
            try:
                if stream is None or stream.closed:
                    continue
            except Exception:
                continue
            try:
                stream.flush()
            except Exception as exc:
                ok = False
                if name == "stdout" and report:
                    try:
                        if sys.version_info >= (3, 13):
                            sys.stderr.write("Exception ignored on flushing sys.stdout:\n")
                        else:
                            sys.stderr.write("Exception ignored in: %r\n" % (stream,))
                        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
                        sys.stderr.flush()
                    except Exception:
                        pass
        return ok

    def _end_child(self, error):
        """A forked child reached the end of the call: end as a Python process ends."""
        status = 0
        if error is not None:
            status, err = self._uncaught(error, True)
            if status is None:
                status = err["_status"] if err is not None else 1
        del error
        status = self._end_program(status)
        _real_exit(130 if status < 0 else status)
