"""Isolate one session forked from a sandboxed template (stdlib + ctypes; Python 3.7-3.13; Linux).

Strategy: the fork server's template runs inside ONE bubblewrap (``template_bwrap_flags`` lists
what that bwrap needs on top of the sandbox's usual flags) and forks a child per session; the
child calls ``isolate(spec)`` before any user code, and becomes as separate from its siblings as
its own bwrap would make it. Three processes, all in the child's process group (killing that
group takes the session down; each has PR_SET_PDEATHSIG=SIGKILL, so none outlives its parent):

- *outer* (the caller, in the template's namespaces): ``unshare`` new mount, PID, IPC, UTS and
  (``network`` false) network namespaces, forks *init*, closes every other descriptor, waits,
  and ends as the worker ended: the same exit code, or killed by the same signal (re-raised on
  itself, so a host sees -N as from a plain child; 128+N only if that signal cannot kill).
- *init* (pid 1 of the new PID namespace): forks the worker, drops every capability, turns
  non-dumpable, reaps every process of the namespace and, when the worker ends, passes its wait
  status to *outer* on a pipe and exits (the kernel then kills whatever is left). A pid 1 cannot
  be killed by its own namespace, so it reports the status instead of re-raising it.
- *worker* (pid 2): the only one that returns from ``isolate()``. It makes ``/`` rec-private,
  mounts /proc for its namespace (/proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus
  read-only, as bwrap does), a private /tmp and /dev/shm (tmpfs), a read-only tmpfs over
  ``root`` (every session's directories) with the ``keep`` paths bound back at the same path,
  writable (bound from descriptors opened before anything is covered, so a root under /tmp
  works too), re-enters its working directory through the new mounts, sets the hostname,
  brings loopback up (own network namespace), empties the capability bounding set, switches to
  ``uid`` (setgroups([]), setgid, setuid) when one is given, zeroes its capability sets and
  ambient set, sets PR_SET_NO_NEW_PRIVS, stays dumpable (as a plain process is; a setuid makes
  it non-dumpable) and sets its own PDEATHSIG last (a credential change clears it).

A worker started with ``--user`` applies it only while root (``os.getuid() == 0``): after
``isolate(uid=...)`` it is not, so the two compose (isolate switches uid, since it also drops
CAP_SETUID); the worker's rlimits still apply afterwards (lowering a limit needs no capability).
Any failing step raises ``IsolationError`` (one line: the step, the call, errno) in the process
that took it: in *outer* before any fork, or in the worker before it returns; a caller must
then exit without running user code (its exit status reaches the host through *init* and
*outer*). Only a failure of *init* itself (before the worker exists, or dropping its own
capabilities) cannot raise there: init writes one line on stderr, kills the worker and the
session ends with status 125. Not unshared: the cgroup namespace (the template's bwrap can
have its own, ``--unshare-cgroup-try``), as today's per-session bwrap shares its cgroup too.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import struct
from typing import Any, Dict, List, NoReturn, Optional, Sequence

__all__ = ["IsolationError", "isolate", "template_bwrap_flags"]

# <linux/sched.h>, <sys/mount.h>, <linux/prctl.h>, <linux/capability.h>, <linux/sockios.h>
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_VERSION_3 = 0x20080522
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq: the name, then ifr_flags in the 24-byte union

_PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")
_TEMPLATE_CAPS = ("CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID")


class IsolationError(OSError):
    """A step of the isolation failed; the message is one line naming the step and errno."""

    def __str__(self) -> str:
        return str(self.strerror)  # the line itself (errno is named in it), no "[Errno N]" prefix


def template_bwrap_flags(root: str) -> List[str]:
    """The flags the template's bwrap needs for ``isolate()`` in its children.

    Add them to the sandbox's usual command line (after its ``--tmpfs /tmp``, so that the
    bind of ``root`` lands on that tmpfs), in place of its ``--cap-drop ALL`` / ``--cap-add``
    and of the per-session ``--bind`` of the workdir and private directory. Keep
    ``--unshare-pid`` (nesting works), ``--unshare-ipc``, ``--unshare-uts``,
    ``--die-with-parent``, ``--new-session``; leave out ``--unshare-net`` when any session
    forked from this template may ask for ``network=True`` (a child cannot get the host's
    network back; a child with ``network`` false makes its own anyway). Every capability kept
    here is dropped by each child before user code runs; the template itself never runs user
    code. The same flags serve an unprivileged caller (bwrap then makes a user namespace and
    the capabilities are that namespace's). A per-session read-only path inside the workdir
    (a project's .venv) goes in the spec's ``read_only``.

    Args:
        root: the directory holding every session's workdir and private directory.

    Returns:
        The bwrap arguments: capabilities (SYS_ADMIN for namespaces and mounts, NET_ADMIN for
        loopback, SETPCAP for the bounding set, SETUID/SETGID for ``uid``) and ``--bind root root``.
    """
    flags = ["--cap-drop", "ALL"]
    for cap in _TEMPLATE_CAPS:
        flags += ["--cap-add", cap]
    return flags + ["--bind", root, root]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _Libc(object):
    """libc's calls, bound once at import (in the template: a forked child then allocates and
    touches little to call them)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        ulong = ctypes.c_ulong
        self.prctl = libc.prctl
        self.prctl.argtypes = [ctypes.c_int, ulong, ulong, ulong, ulong]
        self.prctl.restype = ctypes.c_int
        self.unshare = libc.unshare
        self.unshare.argtypes = [ctypes.c_int]
        self.unshare.restype = ctypes.c_int
        self.mount = libc.mount
        self.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ulong, ctypes.c_char_p]
        self.mount.restype = ctypes.c_int
        self.capset = libc.capset
        self.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.capset.restype = ctypes.c_int
        self.cap_header = _CapHeader(_CAP_VERSION_3, 0)
        self.cap_zero = (_CapData * 2)()


try:
    _LIBC: Optional[_Libc] = _Libc()
    _NO_LIBC = ""
except (OSError, AttributeError) as _exc:  # not Linux/glibc-like: isolate() says so
    _LIBC = None
    _NO_LIBC = str(_exc)


def _lib() -> _Libc:
    if _LIBC is None:
        raise IsolationError(errno.ENOSYS, "isolate: needs Linux's libc calls (%s)" % _NO_LIBC)
    return _LIBC


def _fail(step: str, err: int) -> IsolationError:
    return IsolationError(err, "isolate: %s failed: %s (%s)" % (step, errno.errorcode.get(err, err), os.strerror(err)))


def _check(result: int, step: str) -> None:
    if result != 0:
        raise _fail(step, ctypes.get_errno())


def _prctl(option: int, arg: int, step: str) -> int:
    result = int(_lib().prctl(option, arg, 0, 0, 0))
    if result < 0:
        raise _fail(step, ctypes.get_errno())
    return result


def _mount(source: Optional[str], target: str, fstype: Optional[str], flags: int, data: Optional[str], step: str) -> None:
    def enc(text: Optional[str]) -> Optional[bytes]:
        return None if text is None else os.fsencode(text)

    _check(int(_lib().mount(enc(source), enc(target), enc(fstype), flags, enc(data))), step)


# -- the spec ------------------------------------------------------------------------------------


class _Spec(object):
    __slots__ = ("root", "keep", "read_only", "network", "uid", "gid", "hostname")

    def __init__(self, spec: Dict[str, Any]) -> None:
        if not isinstance(spec, dict):
            raise IsolationError(errno.EINVAL, "isolate: spec must be a dict, not %s" % type(spec).__name__)
        unknown = sorted(set(spec) - {"root", "keep", "read_only", "network", "uid", "gid", "hostname"})
        if unknown:
            raise IsolationError(errno.EINVAL, "isolate: unknown spec key(s): %s" % ", ".join(unknown))
        root = spec.get("root")
        if not isinstance(root, str) or not os.path.isabs(root) or not os.path.isdir(root):
            raise IsolationError(errno.EINVAL, "isolate: root must be an existing absolute directory, got %r" % (root,))
        self.root = os.path.realpath(root)
        keep = spec.get("keep", [])
        if not isinstance(keep, (list, tuple)) or not all(isinstance(p, str) and os.path.isabs(p) for p in keep):
            raise IsolationError(errno.EINVAL, "isolate: keep must be a list of absolute paths, got %r" % (keep,))
        self.keep = _outermost([os.path.realpath(p) for p in keep])
        inside = self.root.rstrip("/") + "/"
        for path in self.keep:
            if not os.path.isdir(path):
                raise IsolationError(errno.ENOENT, "isolate: keep path %r is not a directory" % path)
            if inside.startswith(path.rstrip("/") + "/"):
                raise IsolationError(errno.EINVAL, "isolate: keep path %r holds root %r" % (path, self.root))
        read_only = spec.get("read_only", [])
        if not isinstance(read_only, (list, tuple)) or not all(isinstance(p, str) and os.path.isabs(p) for p in read_only):
            raise IsolationError(errno.EINVAL, "isolate: read_only must be a list of absolute paths, got %r" % (read_only,))
        self.read_only = _outermost([os.path.realpath(p) for p in read_only if os.path.exists(p)])
        self.network = bool(spec.get("network", False))
        uid = spec.get("uid")
        gid = spec.get("gid", uid)
        for name, value in (("uid", uid), ("gid", gid)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise IsolationError(errno.EINVAL, "isolate: %s must be a non-negative int or None, got %r" % (name, value))
        if (uid is None) != (gid is None):
            raise IsolationError(errno.EINVAL, "isolate: gid without uid")
        self.uid: Optional[int] = uid
        self.gid: Optional[int] = gid
        hostname = spec.get("hostname", "sandbox")
        if hostname is not None and not isinstance(hostname, str):
            raise IsolationError(errno.EINVAL, "isolate: hostname must be a str or None, got %r" % (hostname,))
        self.hostname: Optional[str] = hostname


def _outermost(paths: Sequence[str]) -> List[str]:
    kept: List[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


# -- the three processes -------------------------------------------------------------------------


def isolate(spec: Dict[str, Any]) -> None:
    """Turn the calling (freshly forked, ``setsid()``-ed) process into an isolated session worker.

    Args:
        spec: ``root`` (directory of every session's directories, hidden but for ``keep``),
            ``keep`` (paths kept, writable, at the same place), ``read_only`` (paths made
            read-only after that, e.g. a virtual environment inside the workdir; missing ones
            are skipped), ``network`` (False: an own
            network namespace with loopback only), ``uid`` (and optional ``gid``, default the
            uid; None: keep the current ids), ``hostname`` (default "sandbox").

    Returns:
        None, in the worker only (pid 2 of a new PID namespace). The calling process and the
        namespace's init never return: they ``_exit`` with the worker's status.

    Raises:
        IsolationError: a bad spec or a failed step (one line: step, errno); the caller must
            exit without running user code.
    """
    conf = _Spec(spec)
    parent = os.getppid()
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os._exit(1)  # the template is gone already: nobody is waiting for this session
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC | _CLONE_NEWUTS
    if not conf.network:
        flags |= _CLONE_NEWNET
    _check(int(_lib().unshare(flags)), "unshare(NEWNS|NEWPID|NEWIPC|NEWUTS%s)" % ("" if conf.network else "|NEWNET"))
    status_r, status_w = os.pipe()  # init -> outer: the worker's wait status
    alive_r, alive_w = os.pipe()  # held by outer only: EOF tells init that outer is gone
    top = _top_fd(status_r, status_w, alive_r, alive_w)  # listed now: /proc changes below
    sigchld = signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # waitpid must see the children
    try:
        init = os.fork()
    except OSError as exc:
        raise _fail("fork (init of the new PID namespace)", exc.errno or errno.EAGAIN) from None
    if init == 0:
        os.close(status_r)
        os.close(alive_w)
        if _init(status_w, alive_r, top):  # True in the worker
            os.close(status_w)
            os.close(alive_r)
            if sigchld is not None:  # None: not a handler Python can restore
                signal.signal(signal.SIGCHLD, sigchld)
            try:
                _setup_worker(conf)
            except IsolationError:
                raise
            except OSError as exc:  # a step not named below
                raise _fail("setting up the session (%s)" % exc, exc.errno or errno.EIO) from None
            return
    os.close(status_w)
    os.close(alive_r)
    _outer(init, status_r, alive_w, top)


# outer and init are forks of a template sharing its memory copy-on-write: they allocate little,
# import nothing new, never collect garbage, touch few pages (each costs about 0.5 MiB private).


def _quiet() -> None:
    """No garbage collection (it would touch the template's objects), /, default signals."""
    import gc

    gc.disable()
    try:
        os.chdir("/")
    except OSError:
        pass
    for signum in range(1, signal.NSIG):  # a template's Python handler would run here
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(signum) != signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _top_fd(*fds: int) -> int:
    """One past the highest open descriptor."""
    try:
        return max([int(name) for name in os.listdir("/proc/self/fd")] + list(fds)) + 1
    except (OSError, ValueError):
        import resource

        return max([min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 65536)] + list(fds)) + 1


def _close_fds_except(keep: Sequence[int], top: int) -> None:
    """Close every descriptor below ``top`` but ``keep``; 0-2 become /dev/null (the host's pipes
    stay the worker's alone)."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, top)
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        for fd in range(3):
            try:
                if fd not in keep:
                    os.close(fd)
            except OSError:
                pass
        return
    for fd in range(3):
        if fd != null and fd not in keep:
            os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _outer(init: int, status_r: int, alive_w: int, top: int) -> NoReturn:
    """Wait for init; end as the worker ended. Never returns."""
    try:
        _quiet()
        _close_fds_except((status_r, alive_w), top)
        data = b""
        while True:
            chunk = os.read(status_r, 64)
            if not chunk:
                break
            data += chunk
        _, own = os.waitpid(init, 0)
        status = int(data) if data else own
    except BaseException:
        os._exit(125)
    _end_like(status)


def _end_like(status: int) -> NoReturn:
    """``_exit`` with the exit code of wait status ``status``, or die of its signal."""
    if os.WIFEXITED(status):
        os._exit(os.WEXITSTATUS(status))
    signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else signal.SIGKILL
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the worker dumped its core already
    except (ImportError, OSError, ValueError):
        pass
    try:
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
        os.kill(os.getpid(), signum)
    except BaseException:
        pass
    os._exit(128 + signum)  # a signal that cannot kill (SIGCHLD...): as a shell reports it


def _init(status_w: int, alive_r: int, top: int) -> bool:
    """pid 1: fork the worker (returns True there), then reap until it ends. Never returns in init."""
    try:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, "prctl(PR_SET_PDEATHSIG)")
        os.set_blocking(alive_r, False)
        try:
            if not os.read(alive_r, 1):  # EOF: outer died before PDEATHSIG was set
                os._exit(1)
        except BlockingIOError:  # outer is there
            pass
        worker = os.fork()
    except BaseException as exc:
        _init_failed(str(exc))
    if worker == 0:
        return True
    try:
        _quiet()
        _close_fds_except((status_w, 2), top)
        _prctl(_PR_SET_DUMPABLE, 0, "prctl(PR_SET_DUMPABLE)")
        _drop_bounding_set()
        _zero_capabilities()
        _prctl(_PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")
        os.dup2(0, 2)  # /dev/null: nothing more to report
    except BaseException as exc:
        try:
            os.kill(worker, signal.SIGKILL)
        except OSError:
            pass
        _init_failed(str(exc))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(125)
        if pid == worker:
            try:
                os.write(status_w, str(status).encode())
            finally:
                os._exit(0)


def _init_failed(why: str) -> NoReturn:
    try:
        os.write(2, ("isolate (init): %s\n" % why.splitlines()[0] if why else "isolate (init) failed\n").encode())
    finally:
        os._exit(125)


# -- the worker ----------------------------------------------------------------------------------


def _setup_worker(conf: _Spec) -> None:
    cwd: Optional[str]
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    _setup_mounts(conf)
    try:
        os.chdir(cwd if cwd is not None else "/")  # through the new mounts, not the hidden ones
    except OSError:
        os.chdir("/")
    if conf.hostname is not None:
        try:
            socket.sethostname(conf.hostname)
        except OSError as exc:
            raise _fail("sethostname(%r)" % conf.hostname, exc.errno or errno.EPERM) from None
    if not conf.network:
        _loopback_up()
    _drop_privileges(conf)
    if os.getppid() != 1:  # init (our parent) is gone: the namespace is being torn down
        os._exit(1)


def _setup_mounts(conf: _Spec) -> None:
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None, "mount(/, MS_REC|MS_PRIVATE)")
    kept = []
    for path in conf.keep:  # descriptors first: /tmp or root may cover them below
        try:
            kept.append((path, os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)))
        except OSError as exc:
            raise _fail("open(%r, O_PATH)" % path, exc.errno or errno.EIO) from None
    nosuid = _MS_NOSUID | _MS_NODEV
    _mount("proc", "/proc", "proc", nosuid | _MS_NOEXEC, None, "mount(proc on /proc)")
    for path in _PROC_READ_ONLY:
        if os.path.exists(path):
            _mount(path, path, None, _MS_BIND | _MS_REC, None, "mount(bind %s)" % path)
            flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | nosuid | _MS_NOEXEC
            _mount(None, path, None, flags, None, "mount(remount %s read-only)" % path)
    _mount("tmpfs", "/tmp", "tmpfs", nosuid, "mode=1777", "mount(tmpfs on /tmp)")
    if not os.path.isdir("/dev/shm"):
        try:
            os.mkdir("/dev/shm")
        except OSError as exc:
            raise _fail("mkdir(/dev/shm)", exc.errno or errno.EIO) from None
    _mount("tmpfs", "/dev/shm", "tmpfs", nosuid, "mode=1777", "mount(tmpfs on /dev/shm)")
    try:
        os.makedirs(conf.root, 0o755, exist_ok=True)  # gone if it was under /tmp
    except OSError as exc:
        raise _fail("makedirs(%r)" % conf.root, exc.errno or errno.EIO) from None
    _mount("tmpfs", conf.root, "tmpfs", nosuid | _MS_NOEXEC, "mode=0755,size=64k", "mount(tmpfs on root %s)" % conf.root)
    for path, fd in kept:
        try:
            os.makedirs(path, 0o755, exist_ok=True)
        except OSError as exc:
            raise _fail("makedirs(%r)" % path, exc.errno or errno.EIO) from None
        _mount("/proc/self/fd/%d" % fd, path, None, _MS_BIND | _MS_REC, None, "mount(bind %s)" % path)
        os.close(fd)
    flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | nosuid | _MS_NOEXEC
    _mount(None, conf.root, None, flags, None, "mount(remount root %s read-only)" % conf.root)
    for path in conf.read_only:  # e.g. an interpreter inside a kept workdir
        _mount(path, path, None, _MS_BIND | _MS_REC, None, "mount(bind %s)" % path)
        _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | nosuid, None, "mount(remount %s read-only)" % path)


def _loopback_up() -> None:
    import fcntl

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack(_IFREQ, b"lo", 0)
        (flags,) = struct.unpack_from("H", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, req), 16)
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))
    except OSError as exc:
        raise _fail("ioctl(SIOCSIFFLAGS lo up)", exc.errno or errno.EIO) from None
    finally:
        sock.close()


def _read_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63  # probed below: PR_CAPBSET_READ fails past the last one


_LAST_CAP = _read_last_cap()  # at import (in the template): a child opens no file for it


def _drop_bounding_set() -> None:
    for cap in range(_LAST_CAP + 1):
        try:
            present = _prctl(_PR_CAPBSET_READ, cap, "prctl(PR_CAPBSET_READ)")
        except IsolationError as exc:
            if exc.errno == errno.EINVAL:
                break
            raise
        if present:
            _prctl(_PR_CAPBSET_DROP, cap, "prctl(PR_CAPBSET_DROP, %d)" % cap)


def _zero_capabilities() -> None:
    libc = _lib()
    _check(int(libc.capset(ctypes.addressof(libc.cap_header), ctypes.addressof(libc.cap_zero))), "capset(0)")
    try:
        _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
    except IsolationError as exc:
        if exc.errno != errno.EINVAL:  # a kernel before 4.3 has no ambient set
            raise


def _drop_privileges(conf: _Spec) -> None:
    _drop_bounding_set()
    if conf.uid is not None and conf.gid is not None:
        step = "setgroups([])"
        try:
            os.setgroups([])
            step = "setgid(%d)" % conf.gid
            os.setgid(conf.gid)
            step = "setuid(%d)" % conf.uid
            os.setuid(conf.uid)
        except OSError as exc:
            raise _fail(step, exc.errno or errno.EPERM) from None
    _zero_capabilities()
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")
    _prctl(_PR_SET_DUMPABLE, 1, "prctl(PR_SET_DUMPABLE)")
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, "prctl(PR_SET_PDEATHSIG)")
