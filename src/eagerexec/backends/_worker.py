"""eagerexec's session worker: three stdlib-only files that run a program as ``python prog.py`` would.

Runs under Python 3.7 to 3.13. An older interpreter gets one line on stderr and exit status 2:
this file stays parseable by Python 2.7 and 3.6 (no f-strings, keyword-only arguments,
``nonlocal``, walrus...; ASCII only) so that the check at the top can run there.

Files (they ship together, in one directory, copied or bound as they are): this one (the
version check, the entry point, the main loop, the program's start and end), ``_worker_io.py``
(channels, frames, control requests, output flushing, figures), ``_worker_display.py``
(notebook output: MIME bundles) and ``_worker_exec.py`` (compiling and running a call, errors,
exit statuses). The siblings are read from this
file's directory and executed as private modules (``_eagerexec_worker_io``,
``_eagerexec_worker_exec``) that leave ``sys.modules`` once loaded: the program can neither
import them by accident nor see them; ``sys.path[0]`` is the program's directory, as for
``python prog.py``. Their frames are removed from the program's tracebacks like this file's.

Command line (the contract every backend relies on)::

    python _worker.py (--fds R W C | --fifo IN OUT CTL) --workdir DIR [--private DIR]
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
program's stderr as Python does (optional), "nb": notebook output (optional; once set, on for the
rest of the session, see ``_worker_display.py``), "tp": the host times each part on its own
(optional: a call of several parts then sends a ``P`` frame as each part after the first
starts)}.

Every part of a call is compiled before any part runs: a call with a syntax error anywhere runs
nothing, as Python runs nothing of a file that does not compile (in eager mode the statements of
*earlier* calls have run: that is the one allowed difference). With cuts, each part is then run
in order, and the reply's "p" lists each part's [start, end] (``time.monotonic()``; the first
part's entry includes compiling every part; a part that raised ends there, later parts have no
entry). Worker -> host:
``H`` hello once at start {"pid", "python", "program" (the program's file, as frames name it),
"preload_errors"}; ``R`` one result per request {"i", "s" start, "e" end (time.monotonic()),
"err" (error dict or null), "x" (exit status or null), "f" (figure paths), "t" (always false,
kept for old hosts), "q" (present and 1 when the worker exits after this reply)}; ``P`` {"i",
"k"}: part ``k`` (from 0) of call "i" starts now (only with "tp", for k >= 1: the host restarts
that call's timeout); ``D`` a rich
output of the running call in notebook mode, sent as it happens, after the program's stdout and
stderr are flushed (so the host, draining its pipes first, keeps the order) {"i", "kind"
("result": the value of a top-level expression statement, by the REPL rule; "display":
``display(obj)``, a figure ``plt.show()`` showed or one left open when the call saves figures),
"data" (the MIME bundle: {mime: str}, "text/plain" always, binary types base64,
"application/json" any JSON value), "w" (present and 1: the worker waits for the host's ``A``
frame, an empty JSON object, which the host sends on IN once it has read the program's output
so far and shown the bundle: so it never reads output written after it)}. In notebook mode the
figures the reply lists in "f" were each also sent as a ``D`` bundle.

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

Code runs as ``__main__`` (``sys.modules['__main__']``, ``__file__`` =
PRIVATE/program.py (``--private``: the session's own directory, default DIR; the program runs in
DIR, which is also ``sys.path[0]``), the program so far, also registered in linecache;
``__spec__`` None; ``__doc__`` the program's docstring, not a later string statement;
``sys.argv`` == ["program.py"], the name as ``python program.py`` gives it) with
whole-program line numbers (compile-time warnings too, shown once through the program's warnings
filters), and
``from __future__`` flags accumulated across calls; a ``from __future__`` import after the
program's first statement is the SyntaxError Python gives. After ``os.fork`` in the program the
child never replies; it runs to the end of the call that forked, then (a fork of the main thread)
the later requests, which its parent forwards to it (see ``_worker_io.Channels``), and ends as a
Python process ends (threads, atexit, flush, its own exit status; an uncaught exception is
printed) at an uncaught exception or ``sys.exit``, at "end", at EOF, or when its parent waits for
it (``os.waitpid``/``os.wait``, not WNOHANG) while it waits for more code: the parent gets no
more code until the wait ends.

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
runs only the code its parent has received, so it ends when its parent waits for it (Python would
run the rest of the program in the child too); the worker's channels
(and the program file it writes) are open descriptors the program can see in /proc/self/fd;
in eager mode ``__file__`` holds the program received so far; ``sys.modules`` also lists the
stdlib modules the worker imports; ``signal.getsignal(signal.SIGIO)`` is the worker's handler; ``os._exit``, ``os.waitpid`` and
``os.wait`` are the worker's wrappers (``functools.wraps``).
"""

import sys

if sys.version_info[:2] < (3, 7):
    sys.stderr.write(
        "eagerexec worker needs Python 3.7 to 3.13, this is %d.%d.%d\n" % tuple(sys.version_info[:3])
    )
    sys.exit(2)

import functools  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402

_SELF = sys._getframe().f_code.co_filename  # how this file's frames name it
_HERE = os.path.dirname(os.path.abspath(_SELF))
# in load order (each may import the ones before)
_SIBLINGS = ("_worker_io", "_worker_display", "_worker_exec")


def _load(name):
    """Execute the sibling file ``name``.py as the private module ``_eagerexec`` + name (listed
    in ``sys.modules`` only while the siblings load, so that a later one can import it)."""
    path = os.path.join(_HERE, name + ".py")
    module = types.ModuleType("_eagerexec" + name)
    module.__file__ = path
    sys.modules[module.__name__] = module
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec", 0, True)
    exec(code, module.__dict__)
    return module


try:
    _io = _load("_worker_io")
    _nb = _load("_worker_display")
    _ex = _load("_worker_exec")
finally:
    for _name in _SIBLINGS:
        sys.modules.pop("_eagerexec" + _name, None)
_ex._FILES.add(_SELF)
_state = _io._state
_WORKER = _io._WORKER
_real_exit = _io._real_exit
_internal_error = _io._internal_error
_decode = _io._decode
_type_name = _io._type_name
_Refs = _ex._Refs


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
_PROBE_RUN = (_Recursion.probe, {"probe": _probe, "measured": _Recursion.measured})


class Worker(_io.Channels, _ex.Execution):
    """The session: channels and output (``Channels``), calls and the program's end
    (``Execution``), the main loop here."""

    def __init__(self, rfd, wfd, cfd, opts):
        self.rfd, self.wfd, self.cfd = rfd, wfd, cfd
        self.workdir = os.path.abspath(opts["workdir"])
        # The session's own files (program text, figures) live in the private directory, never
        # in the program's working directory (an old host that names none: the workdir).
        private = os.path.abspath(opts["private"] or opts["workdir"])
        self.program = os.path.join(private, "program.py")
        self.figdir = os.path.join(private, "figures")
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
        _io._watch_figures()
        _nb.watch_show(self)
        _apply_limits(opts["rlimit"], opts["user"])
        os.chdir(self.workdir)
        self.program_fd = os.open(self.program, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self.program_size = 0  # bytes in the program's file (see _record_program)
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
        # the command line `python program.py` (run where the program runs) gives
        name = os.path.basename(self.program)
        sys.argv = [name]
        if hasattr(sys, "orig_argv"):  # 3.10+
            sys.orig_argv = [sys.orig_argv[0], name]
        sys.path[0] = self.workdir
        self.preload_errors = {}
        for name in filter(None, opts["preload"].split(",")):
            try:
                __import__(name)
            except BaseException as exc:  # report, keep going
                self.preload_errors[name] = "%s: %s" % (_type_name(exc), exc)
        _Refs.show = getattr(warnings, "_showwarnmsg", None)
        if _Refs.show is not None:
            warnings._showwarnmsg = _ex._catch_compile_warning
        os._exit = functools.wraps(_real_exit)(_io._os_exit)
        os.waitpid = functools.wraps(_io._real_waitpid)(_io._waitpid)
        os.wait = functools.wraps(_io._real_wait)(_io._wait)
        self.children = []  # forked children the later requests go to: [socket, pending, pid]
        self.fork_channel = None  # the channel of the fork under way (socket pair)
        self.forwarded = False  # a forked child that reads requests its parent forwards
        self.nosignal = 0
        os.register_at_fork(
            before=self._before_fork,
            after_in_parent=self._after_fork_in_parent,
            after_in_child=self._after_fork_in_child,
        )
        _WORKER.append(self)
        self.ctl_pending = b""
        self._listen_for_interrupts()

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
                    if body is not None and body[:1] == b"A":  # a late acknowledgement of a ``D``
                        continue
                    if self.children:  # forked children run the rest of the program too
                        self._forward(body)
                    if body is None or body[:1] in (b"Q", b"W"):  # W: see _worker_io.Channels
                        status = self.status if self.status is not None else 0
                        return self._end_program(status)
                    req = _decode(body[1:].decode("utf-8", "surrogatepass"))
                _state.replied = False
                _state.call_id = req.get("i", 0)
                try:
                    reply = self.run(req, _PROBE_RUN if req is _PROBE else None)
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


_RLIMITS = {
    "as": "RLIMIT_AS",
    "cpu": "RLIMIT_CPU",
    "nproc": "RLIMIT_NPROC",
    "fsize": "RLIMIT_FSIZE",
    "nofile": "RLIMIT_NOFILE",
}


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
    opts = {"workdir": None, "private": "", "max_output": None, "preload": "", "rlimit": "", "user": "", "spin_us": "0"}
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
