"""eagerexec's session worker: one stdlib-only file that runs under any Python >= 3.8.

Command line (the contract every backend relies on)::

    python _worker.py (--fds R W C | --fifo IN OUT CTL) --workdir DIR
                      [--max-output N] [--preload MOD,MOD] [--rlimit NAME=N,...] [--user UID:GID]
                      [--spin-us N]

Channels (all three are *dedicated*; stdin/stdout/stderr belong to the user's code):

- ``R`` / ``IN``: host -> worker requests.  ``W`` / ``OUT``: worker -> host replies.
- ``C`` / ``CTL``: host -> worker interrupts, read by a worker thread. Each interrupt is the
  4-byte big-endian id of the call to interrupt; the thread raises SIGINT in the main thread
  when that call is still running. This is the one interrupt path for every backend (the host
  cannot signal a worker inside a PID namespace or a container).
- ``--fds``: inherited pipe file descriptors. ``--fifo``: named pipes, opened in the order
  IN (read), OUT (write), CTL (read); the host must open its ends in the same order (each open
  blocks until the other side opens), e.g. from a thread.

Frames on IN/OUT: 4-byte big-endian length, then the body: one type byte and a UTF-8 JSON
object. Host -> worker: ``E`` {"i": call id, "src": source, "line": first line, "fig": save
figures after the call (optional, default true), "cuts": whole-program lines where the source's
later parts start (optional), "idle": more code follows after a wait (optional; see below)}.
With cuts, each part is compiled and run on its own, in order, and the reply's "p" lists each
part's [start, end] (``time.monotonic()``, compile included; a part that raised ends there,
later parts have no entry). Worker -> host:
``H`` hello once at start {"pid", "python", "preload_errors"}; ``R`` one result per request
{"i", "s" start, "e" end (time.monotonic()), "err" (error dict or null), "x" (exit code or
null), "f" (figure paths), "t" (Python-level output truncated)}. EOF on IN makes the worker exit.

Waiting for a request: the worker polls IN without blocking for ``--spin-us`` microseconds
(default 0) after each reply, then blocks. Waking a sleeping process costs tens of microseconds
on an idle machine, more than the whole call; a short spin keeps back-to-back calls (one batch
after another) off that path, at the price of that much CPU per call. After replying to an
"idle" request, a full garbage collection that is due runs first, unless a request arrives
within 2 ms (``Worker._idle``).

Output: the user's fd 1 and 2 are whatever the worker inherited (pipes the host reads). All
Python-level output is written through to fd 1/2 before the result frame is sent, so when the
host reads ``R`` every byte of the call's output is already in its pipes. Python-level writes past
``--max-output`` characters per call are dropped in the worker (a flood costs no syscalls).

Code runs as ``__main__`` with ``__file__`` = DIR/program.py (the program so far, also registered
in linecache), compiled with blank-line padding so line numbers are whole-program numbers, with
``from __future__`` flags accumulated across calls. Figures left open are saved to DIR/figures
after each call that asks for it ("fig"), and only those changed since they were last saved. A
figure the program itself saved as PNG and has not changed since (no draw after that save) is
copied from the program's file instead of being drawn again: rendering costs tens of
milliseconds, a copy well under one. ``Figure.savefig``/``draw`` are wrapped for that when
``matplotlib.figure`` is first imported (a ``sys.meta_path`` entry that only looks at that name).
"""

import __future__

import functools
import gc
import io
import json
import linecache
import os
import select
import shutil
import signal
import struct
import sys
import threading
import time
import traceback
import types

_HEADER = struct.Struct(">I")
# One encoder/decoder for the session: json.dumps/loads with options build a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder().decode
_CALL_ID = struct.Struct(">I")
_FUTURE_MASK = 0
for _name in __future__.all_feature_names:
    _FUTURE_MASK |= getattr(__future__, _name).compiler_flag

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


def _shift(code, delta):
    consts = tuple(_shift(c, delta) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)


class _State:
    running = False
    call_id = 0
    written = 0
    limit = 4 * 1024 * 1024
    truncated = False


_state = _State()


class _LimitedText(io.TextIOWrapper):
    """A write-through text stream on fd 1 or 2 that drops writes past the per-call limit."""

    def write(self, s):
        st = _state
        n = len(s)
        if st.written + n > st.limit:
            room = st.limit - st.written
            st.truncated = True
            if room <= 0:
                return n
            st.written = st.limit
            io.TextIOWrapper.write(self, s[:room])
            return n
        st.written += n
        return io.TextIOWrapper.write(self, s)


def _text_stream(fd):
    raw = io.FileIO(fd, "w", closefd=False)
    return _LimitedText(raw, encoding="utf-8", errors="backslashreplace", write_through=True)


def _open_channels(argv):
    if argv[0] == "--fds":
        rfd, wfd, cfd = int(argv[1]), int(argv[2]), int(argv[3])
    elif argv[0] == "--fifo":
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
        self.main_ident = threading.get_ident()
        self.buf = bytearray()
        self.spin = max(0.0, float(opts["spin_us"]) * 1e-6)
        if self.spin:
            os.set_blocking(rfd, False)
        if opts["max_output"]:
            _state.limit = int(opts["max_output"])
        # fd 0 is /dev/null; keep private copies of fd 1/2 to restore them after each call.
        devnull = os.open(os.devnull, os.O_RDONLY)
        if devnull != 0:
            os.dup2(devnull, 0)
            os.close(devnull)
        self.saved = []
        for fd in (1, 2):
            try:
                self.saved.append(os.dup(fd))
            except OSError:
                self.saved.append(None)
        self._install_streams()
        os.environ["MPLBACKEND"] = "Agg"
        _FigureHook.install()
        _apply_limits(opts["rlimit"], opts["user"])
        os.chdir(self.workdir)
        self.program_file = open(self.program, "w", encoding="utf-8")
        module = types.ModuleType("__main__")
        module.__file__ = self.program
        module.__builtins__ = __builtins__
        module.__loader__ = None
        module.__spec__ = None
        sys.modules["__main__"] = module
        self.ns = module.__dict__
        sys.argv = [self.program]
        sys.path[0] = self.workdir
        self.preload_errors = {}
        for name in filter(None, opts["preload"].split(",")):
            try:
                __import__(name)
            except BaseException as exc:  # report, keep going
                self.preload_errors[name] = "%s: %s" % (_type_name(exc), exc)
        signal.signal(signal.SIGINT, self._on_sigint)
        thread = threading.Thread(target=self._control_loop, name="eagerexec-control", daemon=True)
        thread.start()

    # -- plumbing -------------------------------------------------------------------------
    def _install_streams(self):
        sys.stdout = sys.__stdout__ = _text_stream(1)
        sys.stderr = sys.__stderr__ = _text_stream(2)

    def _on_sigint(self, signum, frame):
        if _state.running:
            raise KeyboardInterrupt

    def _control_loop(self):
        pending = b""
        while True:
            try:
                data = os.read(self.cfd, 64)
            except OSError:
                return
            if not data:
                return
            pending += data
            while len(pending) >= 4:
                (call_id,) = _CALL_ID.unpack_from(pending)
                pending = pending[4:]
                if _state.running and _state.call_id == call_id:
                    signal.pthread_kill(self.main_ident, signal.SIGINT)

    def send(self, kind, payload):
        body = kind + _encode(payload).encode("utf-8", "backslashreplace")
        data = _HEADER.pack(len(body)) + body
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]

    def recv(self):
        buf = self.buf
        while True:
            if len(buf) >= 4:
                (size,) = _HEADER.unpack_from(buf)
                if len(buf) >= 4 + size:
                    body = bytes(buf[4 : 4 + size])
                    del buf[: 4 + size]
                    return body
            data = self._read_spinning() if self.spin else os.read(self.rfd, 1 << 16)
            if not data:
                return None
            buf += data

    def _read_spinning(self):
        """Poll IN (non-blocking since start-up) for ``self.spin`` seconds, then block."""
        rfd = self.rfd
        deadline = time.perf_counter() + self.spin
        while True:
            try:
                return os.read(rfd, 1 << 16)
            except BlockingIOError:
                if time.perf_counter() >= deadline:
                    break
        while True:
            select.select([rfd], [], [])
            try:
                return os.read(rfd, 1 << 16)
            except BlockingIOError:
                continue

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

    # -- calls ----------------------------------------------------------------------------
    def _record_program(self, source, first_line):
        have = len(self.lines)
        new = source.splitlines(True)
        if new and not new[-1].endswith("\n"):
            new[-1] += "\n"
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
        lines = source.splitlines(True)
        bounds = [c - first_line for c in cuts]
        if bounds != sorted(set(bounds)) or bounds[0] <= 0 or bounds[-1] >= len(lines):
            return [(source, first_line)]
        starts = [0] + bounds
        ends = bounds + [len(lines)]
        return [("".join(lines[a:b]), first_line + a) for a, b in zip(starts, ends)]

    def run(self, req):
        source = req["src"]
        first_line = req.get("line", 1)
        parts = self._parts(source, first_line, req.get("cuts"))
        times = []
        try:
            self._record_program(source, first_line)
        except Exception:
            pass
        _state.call_id = req["i"]
        _state.written = 0
        _state.truncated = False
        err = None
        exit_code = None
        started = time.monotonic()
        try:
            _state.running = True
            try:
                for text, line in parts:
                    part_start = time.monotonic()
                    try:
                        code = self._compile(text, line)
                        self.flags |= code.co_flags & _FUTURE_MASK
                        exec(code, self.ns)
                    finally:
                        times.append([part_start, time.monotonic()])
            finally:
                _state.running = False
        except SystemExit as exc:
            exit_code, err = self._exit(exc)
        except BaseException as exc:
            err = self._describe(exc)
        ended = time.monotonic()
        if os.getpid() != self.pid:  # a forked child finished the user's code: never return
            os._exit(0)
        figures = self._after_call(req.get("fig", True))
        reply = {
            "i": req["i"],
            "s": started,
            "e": ended,
            "err": err,
            "x": exit_code,
            "f": figures,
            "t": _state.truncated,
        }
        if len(parts) > 1:
            reply["p"] = times
        return reply

    def _compile(self, source, first_line):
        """Compile with whole-program line numbers: shift the code objects (cheap), and on a
        SyntaxError compile again behind blank-line padding so the error's line is right."""
        try:
            code = compile(source, self.program, "exec", self.flags, True)
        except SyntaxError:
            if first_line <= 1:
                raise
            code = compile("\n" * (first_line - 1) + source, self.program, "exec", self.flags, True)
            return code
        if first_line > 1:
            code = _shift(code, first_line - 1)
        return code

    def _exit(self, exc):
        code = exc.code
        if code is None:
            return 0, None
        if isinstance(code, int) and not isinstance(code, bool):
            status = code
        else:
            status = 1
            try:
                sys.stderr.write(str(code) + "\n")
            except Exception:
                pass
        if status == 0:
            return 0, None
        return status, {"type": "SystemExit", "message": str(code), "traceback": "", "frames": []}

    def _describe(self, exc):
        tb = exc.__traceback__
        tb = tb.tb_next if tb is not None else None  # drop this worker's own frame
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
        try:
            message = str(exc)
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

    def _after_call(self, save_figures):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        if sys.stdout is None or sys.stderr is None or sys.stdout.closed or sys.stderr.closed:
            self._install_streams()
        for fd, saved in zip((1, 2), self.saved):
            if saved is not None:
                try:
                    os.dup2(saved, fd)
                except OSError:
                    pass
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

    def serve(self):
        self.send(
            b"H",
            {
                "pid": self.pid,
                "python": "%d.%d.%d" % sys.version_info[:3],
                "preload_errors": self.preload_errors,
            },
        )
        while True:
            try:
                body = self.recv()
                if body is None or body[:1] == b"Q":
                    return
                req = _decode(body[1:].decode("utf-8"))
                self.send(b"R", self.run(req))
                if req.get("idle"):
                    self._idle()
            except KeyboardInterrupt:  # a late interrupt between calls: ignore
                continue


def main(argv):
    rfd, wfd, cfd, rest = _open_channels(argv)
    opts = _parse_options(rest)
    worker = Worker(rfd, wfd, cfd, opts)
    try:
        worker.serve()
    finally:
        # Never wait for the user's non-daemon threads or atexit handlers: the host is gone.
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
