"""eagerexec worker, part 2 of 3: channels, frames, control requests, output, figures.

Loaded by ``_worker.py`` (whose docstring is the protocol's reference) as a private module; stdlib
only, Python 3.7 syntax (no walrus, no positional-only parameters), ASCII only. ``Channels`` is
the ``Worker``'s half that talks to the host: requests in (polling, then waiting with a flush of
the program's output every _FLUSH_EVERY seconds), frames out, CTL read in a SIGIO handler
(interrupts and flush requests), the later requests forwarded to a child the program forked,
the figures saved after a call. The call state (``_state``) and
the ``os._exit`` wrapper live here, where the SIGIO handler and ``reply`` read them.
"""

import functools
import gc
import json
import os
import select
import shutil
import signal
import struct
import sys
import threading
import time
import traceback

_HEADER = struct.Struct(">I")
# One encoder/decoder for the session: json.dumps/loads with options build a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder().decode
_CALL_ID = struct.Struct(">I")
_PEEK = 2  # socket.MSG_PEEK (socket is imported at the program's first fork only)
_WAITED = _HEADER.pack(3) + b"W{}"  # to a forked child: its parent waits for it (see Channels)
_FLUSH_EVERY = 0.05
# Called between the polls of a spin: when the host and the worker share one CPU (the scheduler
# put them there, or a third process holds the other), a spinning side would keep the CPU for its
# whole time slice while the other cannot answer; yielding hands it over at once.
_yield = getattr(os, "sched_yield", lambda: None)
_PLAIN_KEYS = {"i", "s", "e", "err", "x", "f", "t"}


def _plain_reply(r):
    """The ``R`` frame body of a call that ended normally (no error, status or figure), by
    formatting: the reply of nearly every call, and json's encoder costs ~2 us more. None when
    the reply says more."""
    if r.keys() != _PLAIN_KEYS or r["err"] is not None or r["x"] is not None or r["f"] or r["t"] is not False:
        return None
    i, s, e = r["i"], r["s"], r["e"]
    if type(i) is not int or type(s) is not float or type(e) is not float:
        return None
    return b'R{"i":%d,"s":%r,"e":%r,"err":null,"x":null,"f":[],"t":false}' % (i, s, e)


_POLLS = {}  # fd -> its readiness poll (see _poller)


def _poller(fd):
    """A ``poll(timeout_ms)`` that says whether ``fd`` is readable (one per descriptor)."""
    ready = _POLLS.get(fd)
    if ready is None:
        if hasattr(select, "poll"):
            poll = select.poll()
            poll.register(fd, select.POLLIN)
            ready = _POLLS[fd] = poll.poll
        else:
            ready = _POLLS[fd] = lambda ms: select.select([fd], [], [], ms / 1000.0)[0]
    return ready


# Idle-time garbage collection (see Worker._idle).
_IDLE_GC_AFTER = 3  # young-generation collections since the last full one
_IDLE_GRACE = 0.002

_real_exit = os._exit
_WORKER = []  # the one Worker, once built (read by the os._exit wrapper)


class _State:
    running = False
    call_id = 0
    started = 0.0
    replied = True
    compiling = False


_state = _State()


def _os_exit(status):
    if _WORKER and isinstance(status, int):
        _WORKER[0].program_exit(status)
    _real_exit(status)


_real_waitpid = os.waitpid
_real_wait = os.wait


def _waitpid(pid, options):
    worker = _WORKER[0] if _WORKER and _WORKER[0].children else None
    if worker is not None and not options & os.WNOHANG:
        worker._awaited(pid)
    result = _real_waitpid(pid, options)
    if worker is not None and result[0] > 0:
        worker._reaped(result[0])
    return result


def _wait():
    worker = _WORKER[0] if _WORKER and _WORKER[0].children else None
    if worker is not None:
        worker._awaited(-1)
    result = _real_wait()
    if worker is not None:
        worker._reaped(result[0])
    return result


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


class _AfterImport:
    """A ``sys.meta_path`` entry that calls ``patch(module)`` once module ``name`` is imported, then
    leaves the path (one import to watch). ``install`` patches at once when it is already there."""

    def __init__(self, name, patch):
        self.name, self.patch = name, patch

    @classmethod
    def install(cls, name, patch):
        module = sys.modules.get(name)
        if module is not None:
            cls._apply(patch, module)
        elif not any(isinstance(hook, cls) and hook.name == name for hook in sys.meta_path):
            sys.meta_path.insert(0, cls(name, patch))

    @staticmethod
    def _apply(patch, module):
        try:
            patch(module)
        except Exception:  # an unexpected version of the module: it stays as it is
            pass

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run_module = loader.exec_module
        patch = self.patch

        def exec_module(module):
            run_module(module)
            _AfterImport._apply(patch, module)

        loader.exec_module = exec_module
        return spec


def _watch_figures():
    """Wrap ``Figure.savefig``/``draw`` once matplotlib.figure is imported, so the worker knows
    which PNG file holds a figure's current state (an unexpected matplotlib: figures are simply
    drawn again)."""
    _AfterImport.install("matplotlib.figure", lambda module: _wrap_figure(module.Figure))


def _open_figures():
    """pyplot's open figures, by number (none when matplotlib's helpers are not there)."""
    try:
        from matplotlib._pylab_helpers import Gcf

        return [manager.canvas.figure for _, manager in sorted(Gcf.figs.items())]
    except Exception:
        return []


def _unchanged(fig):
    """Not edited since its last capture: the edit count the Figure hook keeps is the captured
    one (without the hook: captured, and not stale)."""
    state = fig.__dict__
    edits = state.get("_eagerexec_edits")
    if "_eagerexec_captured" not in state or state["_eagerexec_captured"] != edits:
        return False
    return edits is not None or not fig.stale


def _captured(fig):
    """Note that ``fig`` was captured in its current state."""
    fig.__dict__["_eagerexec_captured"] = fig.__dict__.get("_eagerexec_edits")


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


class Channels:
    """The ``Worker``'s channels and output (a mixin: ``Worker.__init__`` sets the attributes)."""

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

    # -- forked children: the program's later requests, forwarded ---------------------------
    # A fork of the main thread during a call gives the child a channel (a socket pair: a send
    # to a child that is gone raises no SIGPIPE) on which the parent forwards each request it
    # takes after the fork: the child runs the rest of the program as under ``python prog.py``
    # (as far as the host has sent it), never replying. A blocking ``os.waitpid``/``os.wait``
    # of the parent for the child sends it ``W``: the parent gets no more code until the wait
    # ends, so a child waiting for more ends its program then (it would wait forever).
    def _before_fork(self):
        """Flush the program's output (a child never repeats its parent's buffered output) and
        make the child's channel."""
        self._flush()
        self.fork_channel = None
        if _state.running and threading.current_thread() is threading.main_thread():
            if len(self.children) >= 8:
                self._prune()
            try:
                import socket

                self.fork_channel = socket.socketpair()
                self.nosignal = getattr(socket, "MSG_NOSIGNAL", 0)
            except Exception:  # no channel: the child ends with the call that forked it
                pass

    def _after_fork_in_parent(self):
        pair, self.fork_channel = self.fork_channel, None
        if pair is not None:
            pair[1].close()
            pair[0].setblocking(False)
            self.children.append([pair[0], bytearray(), None])  # socket, pending, pid

    def _after_fork_in_child(self):
        """Read the later requests from the channel, never from the host's; forget the
        parent's other children; tell the parent this child's pid."""
        pair, self.fork_channel = self.fork_channel, None
        for child in self.children:
            try:
                child[0].close()
            except Exception:
                pass
        self.children = []
        if pair is None:
            return
        pair[0].close()
        try:
            pair[1].send(_CALL_ID.pack(os.getpid()))
        except OSError:
            pass
        self.rfd = pair[1].detach()
        os.set_blocking(self.rfd, not self.spin)
        del self.buf[:]  # what the parent had read ahead reaches the child through the channel
        self.forwarded = True

    def _forward(self, body):
        """Pass a request (None: EOF) on to the forked children still alive, never blocking:
        what a busy child cannot take yet waits in its pending buffer."""
        for child in list(self.children):
            if body is not None:
                child[1] += _HEADER.pack(len(body)) + body
            if not self._push(child) or body is None:
                self._drop(child)

    def _push(self, child):
        """Send what ``child`` has pending; False when it is gone."""
        sock, pending = child[0], child[1]
        try:
            while pending:
                n = sock.send(pending, self.nosignal)
                del pending[:n]
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        return True

    def _drop(self, child):
        try:
            self.children.remove(child)
            child[0].close()
        except Exception:
            pass

    def _learn_pid(self, child):
        """Read the pid ``child`` sent (None while it has not); False when it is gone."""
        if child[2] is None:
            try:
                data = child[0].recv(4)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if len(data) != 4:
                return False
            child[2] = _CALL_ID.unpack(data)[0]
        return True

    def _prune(self):
        """Close the channels of children that are gone (a program forking in a loop keeps
        no descriptor for each child it forked)."""
        for child in list(self.children):
            try:
                if self._learn_pid(child) and child[0].recv(1, _PEEK) != b"":
                    continue
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                pass
            self._drop(child)

    def _reaped(self, pid):
        """Child ``pid`` was waited for: it is gone (its pid, sent first, is readable now)."""
        for child in list(self.children):
            if not self._learn_pid(child) or child[2] == pid:
                self._drop(child)

    def _awaited(self, pid):
        """The program waits (blocking) for child ``pid`` (-1 or <= 0: any, or a group)."""
        for child in list(self.children):
            if not self._learn_pid(child):
                self._drop(child)
                continue
            if pid <= 0 or child[2] in (None, pid):
                child[1] += _WAITED
                if not self._push(child):
                    self._drop(child)

    def _flush(self):
        for stream in self.streams:
            try:
                stream.flush()
            except Exception:  # a closed stream or descriptor, a reentrant call: not now
                pass

    def send(self, kind, payload):
        if os.getpid() != self.pid:  # a forked child never talks to the host
            return
        body = _plain_reply(payload) if kind == b"R" else None
        if body is None:
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
        if not self.spin and not self.children and len(sys._current_frames()) == 1:
            # Only the main thread, which is here: nothing can print while it waits, so it
            # waits in one blocking read (IN is blocking without a spin), as it did before
            # output needed flushing between calls.
            return os.read(rfd, 1 << 16)
        if self.spin:  # each turn a poll(0): a read failing with EAGAIN raises, twice the cost
            deadline = time.perf_counter() + self.spin
            ready = _poller(rfd)
            while True:
                if ready(0):
                    try:
                        return os.read(rfd, 1 << 16)
                    except BlockingIOError:
                        pass
                if time.perf_counter() >= deadline:
                    break
                _yield()  # the host may be on this CPU: let it run (see _yield)
        while True:
            if select.select([rfd], [], [], _FLUSH_EVERY)[0]:
                try:
                    return os.read(rfd, 1 << 16)
                except BlockingIOError:
                    continue
            self._flush()
            for child in list(self.children):  # a busy child's requests, as it takes them
                if child[1] and not self._push(child):
                    self._drop(child)

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

    def _after_call(self, save_figures):
        self._flush()
        plt = sys.modules.get("matplotlib.pyplot") if save_figures else None
        if plt is None:
            return []
        return self._save_figures(plt)

    def _save_figures(self, plt):
        """Save each open figure changed since its last capture; never changes the current one.
        Figures stay open (the program may use them later, as it would under ``python file.py``)."""
        paths = []
        for fig in _open_figures():
            if _unchanged(fig):
                continue
            try:
                path = self._figure_path()
                own = _user_png(fig)
                if own is not None:
                    shutil.copyfile(own, path)
                else:
                    fig.savefig(path, format="png")
                _captured(fig)
                paths.append(path)
            except Exception:
                pass
        return paths

    def _figure_path(self):
        """The path of the session's next figure file (its directory made)."""
        os.makedirs(self.figdir, exist_ok=True)
        self.nfig += 1
        return os.path.join(self.figdir, "figure-%d.png" % self.nfig)
