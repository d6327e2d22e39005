"""eagerexec's fork-server template: one interpreter with the worker and the preloads imported,
forked into each new session (see ``_forkserver.py`` for the host side).

Strategy: importing numpy/pandas/matplotlib costs each cold worker ~90 MB of private memory and a
second of start-up. The template imports the worker's files (``_worker.py`` and its siblings,
loaded once) and the preload modules, runs ``gc.collect(); gc.freeze()`` (the collector never
touches the imported objects again, so their pages stay shared with every child: ~5 MB private
per idle session instead of ~30 MB without the freeze), then forks one child per session. The
child becomes what ``python _worker.py --fds R W C ARGS`` run by the host would be: its own
session (``setsid``), stdin on /dev/null, fd 1/2 the session's pipes, the request's environment
and working directory, then ``_worker.main``, which never returns.

Stdlib only, Python 3.7 to 3.13 syntax (ASCII, no f-strings in the version check's way), Linux
(``SOCK_SEQPACKET`` socket pairs; ``prctl(PR_SET_PDEATHSIG)``: the template dies with the host).

Command line::

    python _worker_template.py --socket FD [--preload MOD,MOD]

Wire: FD is a ``SOCK_SEQPACKET`` Unix socket (one message = one UTF-8 JSON object; file
descriptors travel with ``SCM_RIGHTS``). Template -> host: {"hello": 1, "pid", "python",
"preload_errors" {module: error}, "threads" (threads alive when forking starts: 1 is safe)} once;
{"id", "pid"} or {"id", "error", "errno"} per spawn request; {"exit": pid, "status": the
``subprocess`` return code, negative for a signal} once a child is reaped. Host -> template:
{"id", "args" (the worker's options after the channels), "env", "cwd", "isolate" (optional: the
spec ``_worker_isolate.isolate`` applies in the child)} with five descriptors: the child's
requests (read), replies (write), control (read), stdout (write), stderr (write); {"ack": pid}
once the host has learnt the child's pid (a child is reaped only after its ack, so that a host
outside the template's PID namespace can still find it in /proc). EOF: the template exits; its
children are independent sessions (the host holds their pipes).

Pids are the template's own (of its PID namespace when it runs in one: the host translates).
A child's ``sys.modules`` is a cold worker's with the same preloads: the template imports nothing
of its own before the worker and the preloads are loaded (``_worker.py`` is executed as the worker
loads its siblings, without importlib), and the child forgets the modules only the template
imported after that (``socket``, ``ctypes``...). What still differs from a cold worker: the hash
seed is the template's (shared by its children); ``os.getppid()`` is the template; Python's
start-up state (``PYTHON*`` variables, locale, home) is the template's, so the host forks only
requests whose start-up environment matches it; numpy's global random generator is reseeded in
each child (Python's ``random`` reseeds itself after a fork).
"""

import sys

if sys.version_info[:2] < (3, 7):
    sys.stderr.write(
        "eagerexec worker needs Python 3.7 to 3.13, this is %d.%d.%d\n" % tuple(sys.version_info[:3])
    )
    sys.exit(2)

# Only what the worker imports too, until the worker and the preloads are loaded: the modules
# imported after that (``own_modules``) are the template's alone and the children forget them,
# so that a session's ``sys.modules`` is a cold worker's.
import gc  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
_MAX_MESSAGE = 1 << 20
_FDS_PER_SPAWN = 5
_PR_SET_PDEATHSIG = 1


def _load_sibling(name):
    """Execute ``name``.py of this directory as the private module ``_eagerexec`` + name (out of
    ``sys.modules`` once loaded, as the worker keeps its siblings; no importlib machinery)."""
    path = os.path.join(_HERE, name + ".py")
    module = types.ModuleType("_eagerexec" + name)
    module.__file__ = path
    sys.modules[module.__name__] = module
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec", 0, True)
        exec(code, module.__dict__)
    finally:
        sys.modules.pop(module.__name__, None)
    return module


def _die_with_parent():
    """Ask the kernel for SIGKILL when the thread that started us ends (Linux; else nothing)."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _returncode(status):
    """The ``subprocess`` return code of a wait status."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return status


def _exit_like_python(exc):
    """What the interpreter does with an uncaught exception at the top (the child's start-up
    failed before the worker took over): print it, exit 1 (SystemExit: its status)."""
    status = 1
    try:
        if isinstance(exc, SystemExit):
            code = exc.code
            if code is None:
                status = 0
            elif isinstance(code, int):
                status = code & 0xFF
            else:
                sys.stderr.write("%s\n" % (code,))
        else:
            traceback.print_exception(type(exc), exc, exc.__traceback__)
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(status)


class Template:
    """The serving loop: spawn requests in, children forked, their exits reported."""

    def __init__(self, sock, worker, preload_errors, own_modules):
        self.sock = sock
        self.own_modules = own_modules
        self.worker = worker
        self.preload_errors = preload_errors
        self.children = {}  # pid -> acknowledged by the host (reaped only then)
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        signal.signal(signal.SIGCHLD, self._on_child)
        signal.set_wakeup_fd(self.wake_w)

    @staticmethod
    def _on_child(signum, frame):
        """SIGCHLD: the wake-up pipe (``set_wakeup_fd``) ends the wait; nothing to do here."""

    def send(self, message):
        self.sock.sendall(json.dumps(message).encode("utf-8"))

    def hello(self, threads):
        self.send(
            {
                "hello": 1,
                "pid": os.getpid(),
                "python": "%d.%d.%d" % sys.version_info[:3],
                "preload_errors": self.preload_errors,
                "threads": threads,
            }
        )

    def serve(self):
        """Answer until EOF on the socket, then return (the children live on)."""
        while True:
            try:
                ready = select.select([self.sock, self.wake_r], [], [])[0]
            except InterruptedError:  # pragma: no cover (PEP 475 retries)
                continue
            if self.wake_r in ready:
                try:
                    while os.read(self.wake_r, 256):
                        pass
                except OSError:
                    pass
            if self.sock in ready:
                if not self._take():
                    return
            self._reap()

    def _take(self):
        """Read and handle one message; False at EOF."""
        fds = array.array("i")
        try:
            data, ancdata, flags, _ = self.sock.recvmsg(
                _MAX_MESSAGE, socket.CMSG_SPACE(_FDS_PER_SPAWN * fds.itemsize)
            )
        except InterruptedError:
            return True
        except OSError:
            return False
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
        fds = list(fds)
        if not data and not fds:
            return False
        try:
            message = json.loads(data.decode("utf-8"))
            if "ack" in message:
                pid = int(message["ack"])
                if pid in self.children:
                    self.children[pid] = True
                return True
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) != _FDS_PER_SPAWN:
                self.send({"id": message.get("id"), "error": "malformed spawn request", "errno": errno.EINVAL})
                return True
            self._spawn(message, fds)
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        return True

    def _spawn(self, request, fds):
        cwd = request.get("cwd")
        if cwd is not None and not os.path.isdir(cwd):
            self.send({"id": request["id"], "error": "no such directory: %r" % (cwd,), "errno": errno.ENOENT})
            return
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                try:
                    stream.flush()
                except Exception:
                    pass
        try:
            pid = os.fork()
        except OSError as exc:
            self.send({"id": request["id"], "error": str(exc), "errno": exc.errno or errno.EAGAIN})
            return
        if pid == 0:
            try:
                self._child(request, fds)
            except BaseException as exc:
                _exit_like_python(exc)
            os._exit(1)  # pragma: no cover (the worker never returns)
        self.children[pid] = False
        self.send({"id": request["id"], "pid": pid})

    def _child(self, request, fds):
        """In the forked child: become the session's worker (never returns)."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (self.wake_r, self.wake_w):
            os.close(fd)
        self.sock.close()
        for name in self.own_modules:  # imported by the template alone (see the imports)
            sys.modules.pop(name, None)
        os.setsid()
        req_r, rep_w, ctl_r, out_w, err_w = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (out_w, err_w):
            os.close(fd)
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        if hasattr(time, "tzset"):
            time.tzset()  # TZ is the request's
        _reseed()
        cwd = request.get("cwd")
        if cwd is not None:
            os.chdir(cwd)
        sys.path.insert(0, os.getcwd())  # the worker sets sys.path[0] to the program's directory
        if "isolate" in request:
            isolate = _load_sibling("_worker_isolate")
            isolate.isolate(request["isolate"])
        args = [str(a) for a in request.get("args") or ()]
        self.worker.main(["--fds", str(req_r), str(rep_w), str(ctl_r)] + args)

    def _reap(self):
        """Report the children that ended (those the host acknowledged: see the module doc)."""
        for pid, acked in list(self.children.items()):
            if not acked:
                continue
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # pragma: no cover (someone else reaped it: status lost)
                del self.children[pid]
                self.send({"exit": pid, "status": -9})
                continue
            if done:
                del self.children[pid]
                self.send({"exit": pid, "status": _returncode(status)})


def _reseed():
    """Random generators seeded at import would repeat the template's sequence in every child:
    Python's ``random`` reseeds itself after a fork, numpy's global generator does not."""
    nprandom = sys.modules.get("numpy.random")
    if nprandom is not None:
        try:
            nprandom.seed()
        except Exception:
            pass


def _parse(argv):
    opts = {"socket": None, "preload": ""}
    i = 0
    while i < len(argv):
        key = argv[i][2:]
        if key not in opts or i + 1 >= len(argv):
            raise SystemExit("_worker_template.py: bad option %r" % argv[i])
        opts[key] = argv[i + 1]
        i += 2
    if opts["socket"] is None:
        raise SystemExit("usage: _worker_template.py --socket FD [--preload MOD,MOD]")
    return int(opts["socket"]), opts["preload"]


def start(argv):
    """Parse the command line, load the worker; returns (socket fd, preload, worker module)."""
    fd, preload = _parse(argv)
    # The script's directory is no place to import from (``docker``, ``local``... live there).
    if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
        del sys.path[0]
    worker = _load_sibling("_worker")
    worker._ex._FILES.add(os.path.abspath(__file__))
    return fd, preload, worker


def serve(fd, preload, worker):
    """Import the preloads and the template's own modules, freeze them all, say hello, serve
    until EOF, exit."""
    preload_errors = {}
    for name in filter(None, preload.split(",")):
        try:
            __import__(name)
        except BaseException as exc:  # report, keep going (as the worker does)
            preload_errors[name] = "%s: %s" % (worker._type_name(exc), exc)
    before = set(sys.modules)
    global array, errno, json, select, signal, socket, traceback
    import array
    import errno
    import json
    import select
    import signal
    import socket
    import threading
    import traceback

    _die_with_parent()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, fileno=fd)
    sock.set_inheritable(False)
    own_modules = sorted(set(sys.modules) - before)
    template = Template(sock, worker, preload_errors, own_modules)
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()
    template.hello(threading.active_count())
    template.serve()
    os._exit(0)


if __name__ == "__main__":
    _fd, _preload, _worker = start(sys.argv[1:])
    # The worker's recursion offset counts from where a script's code runs: this module's level
    # (its own measure, taken while it was imported, is deeper by the import's frames).
    _worker._probe()
    _worker._TOP = _worker._probe()
    serve(_fd, _preload, _worker)
