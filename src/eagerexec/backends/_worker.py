"""eagerexec's session worker: one stdlib-only file that runs a program as ``python prog.py`` would.

Runs under Python 3.7 to 3.13. An older interpreter gets one line on stderr and exit status 2:
the whole file stays parseable by Python 2.7 and 3.6 (no f-strings, keyword-only arguments,
``nonlocal``, walrus...; ASCII only) so that the check at the top can run there.

Command line (the contract every backend relies on)::

    python _worker.py (--fds R W C | --fifo IN OUT CTL) --workdir DIR
                      [--preload MOD,MOD] [--rlimit NAME=N,...] [--user UID:GID] [--spin-us N]

(The old per-call output cap, option ``max-output N``, is still accepted and ignored: the host
keeps the head and tail of the output.)

Channels (all three are *dedicated*; stdin/stdout/stderr belong to the program):

- ``R`` / ``IN``: host -> worker requests.  ``W`` / ``OUT``: worker -> host replies.
- ``C`` / ``CTL``: host -> worker interrupts. Each is the 4-byte big-endian id of the call to
  interrupt: KeyboardInterrupt is raised in the program when that call is still running (an
  id of an earlier call is ignored). Id 0 asks for a flush of the program's buffered output
  (a host that wants a long call's output as it comes can send it on a schedule). The worker
  reads CTL in a SIGIO handler (``O_ASYNC``), so it has no helper thread: the program sees
  the threads Python would show it (``threading.active_count() == 1``) and no fork warning
  about them on 3.12+. This is the one interrupt path for every backend (the host cannot
  signal a worker inside a PID namespace or a container).
- ``--fds``: inherited pipe file descriptors. ``--fifo``: named pipes, opened in the order
  IN (read), OUT (write), CTL (read); the host must open its ends in the same order (each open
  blocks until the other side opens), e.g. from a thread.

Frames on IN/OUT: 4-byte big-endian length, then the body: one type byte and a UTF-8 JSON
object. Host -> worker: ``E`` {"i": call id, "src": source, "line": first line, "fig": save
figures after the call (optional, default true), "cuts": whole-program lines where the source's
later parts start (optional), "idle": more code follows after a wait (optional; see below),
"end": the program ends after this call (optional), "show": print an uncaught exception on the
program's stderr as Python does (optional)}.

Every part of a call is compiled before any part runs: a call with a syntax error anywhere runs
nothing, as Python runs nothing of a file that does not compile (in eager mode the statements of
*earlier* calls have run: that is the one allowed difference). With cuts, each part is then run
in order, and the reply's "p" lists each part's [start, end] (``time.monotonic()``; the first
part's entry includes compiling every part; a part that raised ends there, later parts have no
entry). Worker -> host:
``H`` hello once at start {"pid", "python", "program" (the program's file, as frames name it),
"preload_errors"}; ``R`` one result per request {"i", "s" start, "e" end (time.monotonic()),
"err" (error dict or null), "x" (exit status or null), "f" (figure paths), "t" (always false,
kept for old hosts), "q" (present and 1 when the worker exits after this reply)}.

Error dict: {"type", "message" (what Python prints after the type: ``str(exc)``, a SyntaxError's
``msg``), "traceback" (as Python prints it: the program's frames only; a
SyntaxError raised while compiling a call has no frames and no "Traceback" header), "line",
"line_text", "frames" ([file, line, name, source] outermost first), "printed" (the worker already
wrote it on the program's stderr: with "show", or when the program set its own
``sys.excepthook``, which is then called as Python calls it), "internal" (true: the worker itself
failed, not the program; absent otherwise)}.

Exit status ("x"), as ``subprocess`` reports ``python prog.py``: without "end", set only when the
call raised ``SystemExit`` (``sys.exit``) -- None and False give 0, an int gives its low 8 bits
(256 -> 0, -1 -> 255), anything else prints ``str(code)`` on stderr and gives 1 -- and the
session goes on. ``os._exit(n)`` in the program: the worker replies with "x" n & 0xFF and "q",
then really exits (what the program's streams still buffer is lost, as with Python). With
"end": figures are saved first ("f"), then the worker does what Python does at exit: waits for
non-daemon threads (``threading._shutdown``), runs ``atexit`` handlers, flushes
``sys.stdout``/``sys.stderr`` (a failed stdout flush prints "Exception ignored ..." and gives
120), clears ``__main__``'s names as Python does (finalizers run), flushes again, replies with
"x" always set (0; 1 after an uncaught exception; -2 after an uncaught KeyboardInterrupt on
Python >= 3.8; the SystemExit status) and "q", and exits. An "end" request whose source is
empty ends the program with the status of the call before it (e.g. the ``sys.exit`` the host
saw). EOF on IN ends the program the same way (their output goes to fd 1/2) without a reply.
The program's recursion limit counts its own frames only (``_Recursion``).

Waiting for a request: the worker polls IN without blocking for ``--spin-us`` microseconds
(default 0) after each reply, then blocks. Waking a sleeping process costs tens of microseconds
on an idle machine, more than the whole call; a short spin keeps back-to-back calls (one batch
after another) off that path, at the price of that much CPU per call. After replying to an
"idle" request, a full garbage collection that is due runs first, unless a request arrives
within 2 ms (``Worker._idle``).

Output: ``sys.stdout``/``sys.stderr`` are the interpreter's own streams on fd 1/2 (pipes the host
reads), buffered as Python buffers them for ``python prog.py`` (stdout in blocks, stderr by line
from 3.9); the worker never replaces or restores them or the descriptors (``os.close(1)`` makes
later output fail as in Python). It flushes them before each reply (so when the host reads
``R`` every byte the call wrote is in its pipes), every 50 ms while it waits for a request
(what background threads print between calls is not held back), on a CTL flush request, and
before ``os.fork`` (a child never repeats its parent's buffered output).

Code runs as ``__main__`` (``sys.modules['__main__']``, ``__file__`` = DIR/program.py, the program
so far, also registered in linecache; ``__spec__`` None; ``__doc__`` the program's docstring, not
a later string statement; ``sys.argv`` == [``__file__``]) with whole-program line numbers
(compile-time warnings too, shown once through the program's warnings filters), and
``from __future__`` flags accumulated across calls; a ``from __future__`` import after the
program's first statement is the SyntaxError Python gives. After ``os.fork`` in the program the
child runs to the end of the call that forked, then ends as a Python process ends (threads,
atexit, flush, its own exit status; an uncaught exception is printed) without ever replying.

Figures left open are saved to DIR/figures after each call that asks for it ("fig"), and only
those changed since they were last saved. A figure the program itself saved as PNG and has not
changed since (no draw after that save) is copied from the program's file instead of being drawn
again: rendering costs tens of milliseconds, a copy well under one. ``Figure.savefig``/``draw``
are wrapped for that when ``matplotlib.figure`` is first imported (a ``sys.meta_path`` entry that
only looks at that name).

Known differences from ``python prog.py`` (by design or out of reach): output is flushed at the
end of each call, while waiting and before ``fork`` (Python would hold it in its buffer until
exit, ``os._exit`` would lose it, a forked child would repeat it; in eager mode this changes the
order against other writers to the same pipe, e.g. a subprocess); in eager mode a forked child
ends with the call that forked it (the later calls go to the parent); the worker's channels
(and the program file it writes) are open descriptors the program can see in /proc/self/fd;
in eager mode ``__file__`` holds the program received so far; ``sys.modules`` also lists the
stdlib modules the worker imports; ``signal.getsignal(signal.SIGIO)`` is the worker's handler.
"""

import sys

if sys.version_info[:2] < (3, 7):
    sys.stderr.write(
        "eagerexec worker needs Python 3.7 to 3.13, this is %d.%d.%d\n" % tuple(sys.version_info[:3])
    )
    sys.exit(2)

import __future__  # noqa: E402

import ast  # noqa: E402
import atexit  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402

_HEADER = struct.Struct(">I")
# One encoder/decoder for the session: json.dumps/loads with options build a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder().decode
_CALL_ID = struct.Struct(">I")
_FUTURE_MASK = 0
for _name in __future__.all_feature_names:
    _FUTURE_MASK |= getattr(__future__, _name).compiler_flag
# Names a code object made only of a docstring and ``from __future__`` imports can use.
_PREAMBLE_NAMES = frozenset(["__future__", "__doc__"] + list(__future__.all_feature_names))
_SELF = sys._getframe().f_code.co_filename  # how this file's frames name it
_CAN_SHIFT = hasattr(types.CodeType, "replace")  # 3.8+; 3.7 compiles behind blank lines
_OLD_PARSER = sys.version_info < (3, 10)
# 3.13+ stores a class's first line as a constant of its body (``__firstlineno__``, read by
# inspect.getsource): code with a class is compiled behind blank lines, never shifted.
_CLASS_LINES = sys.version_info >= (3, 13)
_KI_STATUS = -2 if sys.version_info >= (3, 8) else 1  # uncaught KeyboardInterrupt
# Python's lines end at \n, \r\n or \r only (str.splitlines also splits at \f, \x1c, U+2028...).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_FLUSH_EVERY = 0.05

# Idle-time garbage collection (see Worker._idle).
_IDLE_GC_AFTER = 3  # young-generation collections since the last full one
_IDLE_GRACE = 0.002

_RLIMITS = {
    "as": "RLIMIT_AS",
    "cpu": "RLIMIT_CPU",
    "nproc": "RLIMIT_NPROC",
    "fsize": "RLIMIT_FSIZE",
    "nofile": "RLIMIT_NOFILE",
}

_real_exit = os._exit
_WORKER = []  # the one Worker, once built (read by the os._exit wrapper)


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


def _probe(depth=0):
    """How much deeper than here Python lets a function recurse."""
    try:
        return _probe(depth + 1)
    except RecursionError:
        return depth


_probe()  # once to warm it up (3.11 counts a specialised call differently)
_TOP = _probe()  # from module level, where the code of ``python prog.py`` runs


class _Recursion:
    """The program's recursion limit counts its own frames only, as under ``python prog.py``:
    the real limit is raised by the depth the worker's frames take (measured once, from the
    worker's module level, where a script's code runs, and from where the program's code runs),
    and ``sys.getrecursionlimit``/``setrecursionlimit`` show and take the program's value.
    The probe goes through the very instructions the program's code goes through (``serve``
    calls ``run``, which ``exec``s), several times: 3.11 counts a specialised call differently."""

    offset = None
    depth = _TOP
    probe = compile("measured(probe())", "<eagerexec>", "exec")
    get = sys.getrecursionlimit
    set = sys.setrecursionlimit

    @classmethod
    def measured(cls, depth):
        cls.depth = depth

    @classmethod
    def apply(cls):
        cls.offset = max(0, _TOP - cls.depth)
        if cls.offset:
            cls.set(cls.get() + cls.offset)
            sys.getrecursionlimit = functools.wraps(cls.get)(_getrecursionlimit)
            sys.setrecursionlimit = functools.wraps(cls.set)(_setrecursionlimit)


def _getrecursionlimit():
    return _Recursion.get() - (_Recursion.offset or 0)


def _setrecursionlimit(limit):
    if not isinstance(limit, int) or limit < 1:
        return _Recursion.set(limit)  # Python's own error
    return _Recursion.set(limit + (_Recursion.offset or 0))


_PROBE = {"i": 0, "src": "", "line": 1, "fig": False}


class _WorkerFault(Exception):
    """The worker failed while preparing the program's code (``args[0]``: what it raised)."""


# What compile() itself raises for a program's source (anything else is the worker's fault).
_COMPILE_ERRORS = (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError, KeyboardInterrupt)


class _State:
    running = False
    call_id = 0
    started = 0.0
    replied = True
    compiling = False


_state = _State()
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


def _os_exit(status):
    if _WORKER and isinstance(status, int):
        _WORKER[0].program_exit(status)
    _real_exit(status)


def _strip(exc, seen=None):
    """Remove this file's frames from ``exc``'s traceback (and its chained exceptions')."""
    seen = seen if seen is not None else set()
    if exc is None or id(exc) in seen:
        return exc
    seen.add(id(exc))
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != _SELF:
            frames.append(tb)
        tb = tb.tb_next
    new = None
    for tb in reversed(frames):
        new = types.TracebackType(new, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    exc.__traceback__ = new
    _strip(exc.__cause__, seen)
    _strip(exc.__context__, seen)
    return exc


def _open_channels(argv):
    if argv and argv[0] == "--fds":
        rfd, wfd, cfd = int(argv[1]), int(argv[2]), int(argv[3])
    elif argv and argv[0] == "--fifo":
        rfd = os.open(argv[1], os.O_RDONLY)
        wfd = os.open(argv[2], os.O_WRONLY)
        cfd = os.open(argv[3], os.O_RDONLY)
    else:
        raise SystemExit("usage: _worker.py (--fds R W C | --fifo IN OUT CTL) --workdir DIR ...")
    for fd in (rfd, wfd, cfd):
        os.set_inheritable(fd, False)
    return rfd, wfd, cfd, argv[4:]


def _parse_options(rest):
    opts = {"workdir": None, "max_output": None, "preload": "", "rlimit": "", "user": "", "spin_us": "0"}
    i = 0
    while i < len(rest):
        key = rest[i][2:].replace("-", "_")
        if key not in opts or i + 1 >= len(rest):
            raise SystemExit("_worker.py: bad option %r" % rest[i])
        opts[key] = rest[i + 1]
        i += 2
    if not opts["workdir"]:
        raise SystemExit("_worker.py: --workdir is required")
    return opts


def _apply_limits(spec, user):
    if spec:
        import resource

        for item in spec.split(","):
            name, _, value = item.partition("=")
            limit = int(value)
            resource.setrlimit(getattr(resource, _RLIMITS[name]), (limit, limit))
    if user and os.getuid() == 0:
        uid, _, gid = user.partition(":")
        os.setgroups([])
        os.setgid(int(gid or uid))
        os.setuid(int(uid))


def _type_name(exc):
    cls = type(exc)
    module = cls.__module__
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    return module + "." + cls.__qualname__


def _internal_error(exc):
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        text = ""
    return {
        "type": _type_name(exc),
        "message": "eagerexec worker: %s" % (exc,),
        "traceback": text,
        "line": None,
        "line_text": None,
        "frames": [],
        "internal": True,
    }


class _FigureHook:
    """A ``sys.meta_path`` entry that wraps ``Figure.savefig``/``draw`` once matplotlib.figure is
    imported, so the worker knows which PNG file holds a figure's current state."""

    @classmethod
    def install(cls):
        module = sys.modules.get("matplotlib.figure")
        if module is not None:
            _wrap_figure(module.Figure)
        else:
            sys.meta_path.insert(0, cls())

    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.figure":
            return None
        try:
            sys.meta_path.remove(self)  # one import to watch
        except ValueError:
            pass
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run_module = loader.exec_module

        def exec_module(module):
            run_module(module)
            try:
                _wrap_figure(module.Figure)
            except Exception:  # an unexpected matplotlib: figures are simply drawn again
                pass

        loader.exec_module = exec_module
        return spec


def _wrap_figure(figure_cls):
    """Count a figure's edits (``stale`` set outside a draw) and note its last PNG save."""
    draw, savefig, stale = figure_cls.draw, figure_cls.savefig, figure_cls.stale

    def set_stale(self, val):
        state = self.__dict__
        if val and not state.get("_eagerexec_drawing"):
            state["_eagerexec_edits"] = state.get("_eagerexec_edits", 0) + 1
        stale.fset(self, val)

    @functools.wraps(draw)
    def tracked_draw(self, *args, **kwargs):
        state = self.__dict__
        state["_eagerexec_drawing"] = state.get("_eagerexec_drawing", 0) + 1
        try:
            return draw(self, *args, **kwargs)
        finally:
            state["_eagerexec_drawing"] -= 1

    @functools.wraps(savefig)
    def noted_savefig(self, fname, *args, **kwargs):
        result = savefig(self, fname, *args, **kwargs)
        try:
            path = os.fspath(fname) if isinstance(fname, (str, os.PathLike)) else None
            fmt = kwargs.get("format") or (os.path.splitext(path)[1][1:] if isinstance(path, str) else "")
            png = isinstance(path, str) and str(fmt).lower() == "png"
            if png:
                path = os.path.abspath(path)
                self.__dict__["_eagerexec_png"] = (path, self.__dict__.get("_eagerexec_edits"), _stamp(path))
            else:
                self.__dict__["_eagerexec_png"] = None
        except Exception:
            pass
        return result

    figure_cls.stale = property(stale.fget, set_stale, None, stale.__doc__)
    figure_cls.draw = tracked_draw
    figure_cls.savefig = noted_savefig


def _stamp(path):
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _user_png(fig):
    """The program's own PNG of ``fig`` if neither the figure nor the file changed since."""
    saved = fig.__dict__.get("_eagerexec_png")
    if saved is None or saved[1] != fig.__dict__.get("_eagerexec_edits"):
        return None
    try:
        return saved[0] if _stamp(saved[0]) == saved[2] else None
    except OSError:
        return None


class Worker:
    def __init__(self, rfd, wfd, cfd, opts):
        self.rfd, self.wfd, self.cfd = rfd, wfd, cfd
        self.workdir = os.path.abspath(opts["workdir"])
        self.program = os.path.join(self.workdir, "program.py")
        self.figdir = os.path.join(self.workdir, "figures")
        self.flags = 0
        self.lines = []
        self.nfig = 0
        self.pid = os.getpid()
        self.buf = bytearray()
        self.spin = max(0.0, float(opts["spin_us"]) * 1e-6)
        self.send_lock = threading.Lock()
        self.beginning = True  # only a docstring and __future__ imports so far
        self.doc_seen = False  # ... and that docstring is already there
        self.status = None  # exit status of the last call that stopped the program
        if self.spin:
            os.set_blocking(rfd, False)
        # fd 0 is /dev/null unless the host gave the worker a real stdin.
        try:
            os.fstat(0)
        except OSError:
            devnull = os.open(os.devnull, os.O_RDONLY)
            if devnull != 0:
                os.dup2(devnull, 0)
                os.close(devnull)
        self.streams = [s for s in (sys.stdout, sys.stderr) if s is not None]
        os.environ["MPLBACKEND"] = "Agg"
        _FigureHook.install()
        _apply_limits(opts["rlimit"], opts["user"])
        os.chdir(self.workdir)
        self.program_file = open(self.program, "w", encoding="utf-8")
        module = types.ModuleType("__main__")
        module.__file__ = self.program
        module.__builtins__ = __builtins__
        module.__cached__ = None
        module.__package__ = None
        module.__spec__ = None
        module.__annotations__ = {}
        try:
            import importlib.machinery

            module.__loader__ = importlib.machinery.SourceFileLoader("__main__", self.program)
        except Exception:
            module.__loader__ = None
        sys.modules["__main__"] = module
        self.ns = module.__dict__
        sys.argv = [self.program]
        if hasattr(sys, "orig_argv"):  # 3.10+: the command line, as `python program.py` has it
            sys.orig_argv = [sys.orig_argv[0], self.program]
        sys.path[0] = self.workdir
        self.preload_errors = {}
        for name in filter(None, opts["preload"].split(",")):
            try:
                __import__(name)
            except BaseException as exc:  # report, keep going
                self.preload_errors[name] = "%s: %s" % (_type_name(exc), exc)
        _Refs.show = getattr(warnings, "_showwarnmsg", None)
        if _Refs.show is not None:
            warnings._showwarnmsg = _catch_compile_warning
        os._exit = functools.wraps(_real_exit)(_os_exit)
        os.register_at_fork(before=self._flush)
        _WORKER.append(self)
        self.ctl_pending = b""
        self._listen_for_interrupts()

    # -- plumbing -------------------------------------------------------------------------
    def _listen_for_interrupts(self):
        """Have the kernel send SIGIO when CTL becomes readable (no helper thread: the program
        sees the threads and ``fork`` warnings it would see under ``python prog.py``)."""
        import fcntl

        os.set_blocking(self.cfd, False)
        signal.signal(signal.SIGIO, self._on_sigio)
        fcntl.fcntl(self.cfd, fcntl.F_SETOWN, self.pid)
        flags = fcntl.fcntl(self.cfd, fcntl.F_GETFL)
        fcntl.fcntl(self.cfd, fcntl.F_SETFL, flags | getattr(os, "O_ASYNC", getattr(fcntl, "FASYNC", 0)))
        self._on_sigio(signal.SIGIO, None)  # anything that came before

    def _on_sigio(self, signum, frame):
        """Read CTL: call id 0 asks for a flush of the program's output, the running call's id
        interrupts it (KeyboardInterrupt, raised here in the main thread)."""
        if os.getpid() != self.pid:
            return
        while True:
            try:
                data = os.read(self.cfd, 256)
            except OSError:  # nothing more to read (or CTL is gone)
                break
            if not data:
                signal.signal(signal.SIGIO, signal.SIG_IGN)
                break
            self.ctl_pending += data
        interrupt = False
        while len(self.ctl_pending) >= 4:
            (call_id,) = _CALL_ID.unpack_from(self.ctl_pending)
            self.ctl_pending = self.ctl_pending[4:]
            if call_id == 0:
                self._flush()
            elif _state.running and _state.call_id == call_id:
                interrupt = True
        if interrupt:
            raise KeyboardInterrupt

    def _flush(self):
        for stream in self.streams:
            try:
                stream.flush()
            except Exception:  # a closed stream or descriptor, a reentrant call: not now
                pass

    def send(self, kind, payload):
        if os.getpid() != self.pid:  # a forked child never talks to the host
            return
        body = kind + _encode(payload).encode("utf-8", "backslashreplace")
        data = _HEADER.pack(len(body)) + body
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]

    def reply(self, payload):
        """Send the current call's one reply (the first of the main thread and ``os._exit``)."""
        with self.send_lock:
            if _state.replied:
                return
            _state.replied = True
            self.send(b"R", payload)

    def program_exit(self, status):
        """``os._exit(status)`` in the program: report the exit as the call's result first
        (what is still in the program's output buffers is lost, as with Python)."""
        if os.getpid() != self.pid or _state.replied:
            return
        now = time.monotonic()
        reply = {"i": _state.call_id, "s": _state.started, "e": now, "err": None, "x": status & 0xFF}
        reply.update({"f": [], "t": False, "q": 1})
        try:
            self.reply(reply)
        except Exception:
            pass

    def recv(self):
        buf = self.buf
        while True:
            if len(buf) >= 4:
                (size,) = _HEADER.unpack_from(buf)
                if len(buf) >= 4 + size:
                    body = bytes(buf[4 : 4 + size])
                    del buf[: 4 + size]
                    return body
            data = self._read_waiting()
            if not data:
                return None
            buf += data

    def _read_waiting(self):
        """Read IN: poll it (non-blocking since start-up) for ``self.spin`` seconds, then wait,
        flushing the program's output every _FLUSH_EVERY seconds (what its background threads
        print between calls reaches the host without waiting for the next call)."""
        rfd = self.rfd
        if self.spin:
            deadline = time.perf_counter() + self.spin
            while True:
                try:
                    return os.read(rfd, 1 << 16)
                except BlockingIOError:
                    if time.perf_counter() >= deadline:
                        break
        while True:
            if select.select([rfd], [], [], _FLUSH_EVERY)[0]:
                try:
                    return os.read(rfd, 1 << 16)
                except BlockingIOError:
                    continue
            self._flush()

    def _idle(self):
        """Use the wait for the next request: collect garbage now if a full collection is near.

        The host says "idle" when more code will come after a wait (the model is still
        writing). A full collection scans every object (tens of milliseconds once numpy, pandas
        and matplotlib are loaded); run by the allocator it lands in whatever statement crosses
        the threshold, often the heavy last ones (a savefig) that nothing can hide. Run here it
        overlaps generation. Skipped when the program disabled the collector, when fewer than
        _IDLE_GC_AFTER young collections happened since the last full one, and when the next
        request arrives within _IDLE_GRACE seconds (a batch that was ready at once)."""
        if self.buf or not gc.isenabled() or gc.get_count()[2] < _IDLE_GC_AFTER:
            return
        try:
            if select.select([self.rfd], [], [], _IDLE_GRACE)[0]:
                return
        except (OSError, ValueError):
            return
        gc.collect()

    # -- the program's text ---------------------------------------------------------------
    def _record_program(self, source, first_line):
        have = len(self.lines)
        new = _split_lines(source)
        if new and not new[-1].endswith(("\n", "\r")):
            new[-1] += "\n"
        if first_line <= 1:
            self.beginning, self.doc_seen = True, False  # the host starts the program again
        if first_line - 1 == have:
            self.lines.extend(new)
            self.program_file.write("".join(new))
        else:
            del self.lines[first_line - 1 :]
            self.lines.extend(["\n"] * (first_line - 1 - len(self.lines)))
            self.lines.extend(new)
            self.program_file.seek(0)
            self.program_file.truncate()
            self.program_file.write("".join(self.lines))
        self.program_file.flush()
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
            code = compile(source, self.program, "exec", flags, True)
        except SyntaxError as exc:
            if first_line <= 1:
                return exc
        else:
            return _shift(code, first_line - 1) if first_line > 1 else code
        del _warned[:]  # compiled again below: each warning is caught again
        return self._compile_padded("\n" * (first_line - 1) + source, flags)

    def _compile_late(self, source, first_line, flags):
        return self._compile_padded("\n" * (first_line - 2) + "0\n" + source, flags)

    def _compile_padded(self, text, flags):
        try:
            return compile(text, self.program, "exec", flags, True)
        except SyntaxError as exc:
            return exc

    def _note_preamble(self, code, source):
        """Is the program still at its beginning: nothing but a docstring (noted) and
        ``__future__`` imports?"""
        self.beginning = False
        if not _PREAMBLE_NAMES.issuperset(code.co_names):
            return
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
    def run(self, req):
        probe = req is _PROBE
        source = req.get("src", "")
        first_line = int(req.get("line", 1))
        if not isinstance(source, str):
            raise TypeError("src must be a string")
        end = bool(req.get("end"))
        show = bool(req.get("show"))
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
                if probe:
                    codes, ns = [_Recursion.probe], {"probe": _probe, "measured": _Recursion.measured}
                for code in codes:
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
        if probe:
            return None
        if os.getpid() != self.pid:  # a forked child finished the program's code
            self._end_child(error)
        status, err = (None, None) if error is None else self._uncaught(error, show)
        del error
        # What the program would exit with if it ended here (None: it did not stop).
        stop = status if status is not None else (err.pop("_status") if err is not None else None)
        figures = self._after_call(req.get("fig", True))  # before atexit closes them
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

    def _after_call(self, save_figures):
        self._flush()
        plt = sys.modules.get("matplotlib.pyplot") if save_figures else None
        if plt is None:
            return []
        return self._save_figures(plt)

    def _save_figures(self, plt):
        """Save each open figure changed since its last capture; never changes the current one."""
        paths = []
        try:
            from matplotlib._pylab_helpers import Gcf

            figures = [manager.canvas.figure for _, manager in sorted(Gcf.figs.items())]
        except Exception:
            return paths
        for fig in figures:
            # Figures stay open (the program may use them later, as it would under
            # `python file.py`). Changed = edited since our last capture (the edit count kept
            # by the Figure hook), or, without the hook, stale.
            state = fig.__dict__
            edits = state.get("_eagerexec_edits")
            if "_eagerexec_captured" in state and state["_eagerexec_captured"] == edits:
                if edits is not None or not fig.stale:
                    continue
            try:
                os.makedirs(self.figdir, exist_ok=True)
                self.nfig += 1
                path = os.path.join(self.figdir, "figure-%d.png" % self.nfig)
                own = _user_png(fig)
                if own is not None:
                    shutil.copyfile(own, path)
                else:
                    fig.savefig(path, format="png")
                state["_eagerexec_captured"] = state.get("_eagerexec_edits")
                paths.append(path)
            except Exception:
                pass
        return paths

    def _hello(self):
        self.send(
            b"H",
            {
                "pid": self.pid,
                "python": "%d.%d.%d" % sys.version_info[:3],
                "program": self.program,
                "preload_errors": self.preload_errors,
            },
        )

    def serve(self):
        """Answer requests until EOF or an "end" request; returns the program's exit status."""
        probes = 4
        while True:
            try:
                if probes:  # measure the recursion depth (see _Recursion), then serve
                    probes -= 1
                    req = _PROBE
                else:
                    body = self.recv()
                    if body is None or body[:1] == b"Q":
                        status = self.status if self.status is not None else 0
                        return self._end_program(status)
                    req = _decode(body[1:].decode("utf-8", "surrogatepass"))
                _state.replied = False
                _state.call_id = req.get("i", 0)
                try:
                    reply = self.run(req)
                except Exception as exc:  # the worker failed, not the program
                    now = time.monotonic()
                    reply = {"i": req.get("i"), "s": now, "e": now, "err": _internal_error(exc), "x": None}
                    reply.update({"f": [], "t": False})
                if reply is None:  # a probe
                    if not probes:
                        _Recursion.apply()
                        self._hello()
                    continue
                self.reply(reply)
                if reply.get("q"):
                    return reply["x"]
                if req.get("idle"):
                    self._idle()
            except KeyboardInterrupt:  # a late interrupt between calls: ignore
                continue


def main(argv):
    rfd, wfd, cfd, rest = _open_channels(argv)
    opts = _parse_options(rest)
    worker = Worker(rfd, wfd, cfd, opts)
    status = 0
    try:
        status = worker.serve()
    finally:
        # The program has ended (threads joined, atexit run, streams flushed): never let the
        # interpreter run its own exit a second time.
        worker._flush()
        _real_exit(130 if status < 0 else status & 0xFF)


if __name__ == "__main__":
    main(sys.argv[1:])
