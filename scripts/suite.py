#!/usr/bin/env python3
"""Runs the Django suite under coverage, with its JUnit and coverage XML, in one Python process.

    suite.py run [ARGS...]        the suite here and now (a one-off test container's command)
    suite.py serve                the warm worker: keeps the interpreter and the third-party
                                  modules loaded, and forks a fresh child per run; it ends
                                  once the checkout it serves is gone, or after
                                  $SUITE_IDLE_SECS (default 3600) without a run
    suite.py fork RUN [ARGS...]   the suite in a child of the worker, with this process's
                                  stdin, stdout, stderr, environment and directory; its exit
                                  status is the suite's
    suite.py stop RUN             stops run RUN's child, if it is still running
    suite.py retire               the worker takes no more runs, and ends with its last one

ARGS go to `manage.py test`. $SUITE_WAIT_FOR, HOST:PORT[,...], names services to wait for
(at most a minute) until they answer from here. With $SUITE_SERVICES_READY, a file, the suite
starts while its services do: it imports the application and finds its tests, and waits until
the file exists (the run writes it once it proved them ready) before it first connects to a
database. JUnit XML (see the settings) and coverage XML land in $REPORTS_DIR; the exit status
is the suite's, whatever happens to the reports.

The worker never imports the application's own modules (its settings included): only what a
child imported from the standard library and the virtualenv, learnt after each run and loaded
before the next fork, so every child imports the application afresh from the source on disk.

The clients (fork, stop, retire) start in a blink: the bare C modules (_socket, _signal) rather
than socket, signal and json, which would import enum and re first. A request is its fields
joined by NUL, which no argument, variable or path holds: the verb, then for a fork the run,
the directory, the number of arguments, the arguments and the environment (KEY=VALUE).
"""
import os
import sys

SOCKET = "/run/todobackend-suite.sock"
# Where a child tells the worker which modules it imported: those are loaded before the next fork
LEARNT = 3


def run(args):
    """The suite under coverage, then the combined coverage XML: manage.py's exit status."""
    import tempfile

    def services():
        for address in filter(None, os.environ.get("SUITE_WAIT_FOR", "").split(",")):
            wait_for(address)

    ready = os.environ.pop("SUITE_SERVICES_READY", None)
    if ready:

        def when_ready():
            wait_for_file(ready)
            services()

        before_connecting(when_ready)
    else:
        services()

    import coverage
    from coverage.execfile import PyRunner

    reports = os.environ.get("REPORTS_DIR", "/reports")
    os.makedirs(reports, exist_ok=True)
    # The coverage data of this run alone: `--parallel N` workers each write a file beside it
    data = tempfile.mkdtemp(prefix="coverage-")
    os.environ["COVERAGE_FILE"] = os.path.join(data, ".coverage")
    runner = PyRunner(["manage.py", "test", "--noinput", *args])
    # manage.py's directory first on the path, as `python manage.py` has it. Not
    # `runner.prepare()`, which guesses it from the outermost frame (a thread's, in the
    # worker) with inspect.stack(), and so looks up every loaded module's file: tens of ms
    sys.path[0] = os.getcwd()
    cov = coverage.Coverage()
    cov.start()
    try:
        runner.run()
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    finally:
        cov.stop()
        cov.save()
    try:
        cov.combine()
        cov.xml_report(outfile=os.path.join(reports, "coverage.xml"))
    except Exception as problem:  # the suite's status stands, whatever happens to the report
        print(f"suite.py: no coverage report: {problem}", file=sys.stderr)
    return status


def before_connecting(then):
    """Runs `then` once, before this process first connects to a database, however it comes
    to (the test runner's setup, a module that queries as it is imported, a custom runner)."""
    import threading

    from django.db.backends.base.base import BaseDatabaseWrapper

    ensure_connection = BaseDatabaseWrapper.ensure_connection
    once = threading.Lock()
    done = []

    def gated(self):
        if not done:
            with once:
                if not done:
                    then()
                    done.append(True)
        return ensure_connection(self)

    BaseDatabaseWrapper.ensure_connection = gated


def wait_for_file(path):
    """Waits until `path` exists: the run that started this one stops it if it never does."""
    import time

    while not os.path.exists(path):
        time.sleep(0.005)


def wait_for(address, within=60):
    """Waits until HOST:PORT accepts a connection from here: a service proved ready from its
    own container may not be reachable yet from this one's (Podman joins them late)."""
    import socket
    import time

    host, port = address.rsplit(":", 1)
    started = time.monotonic()
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            break
        except OSError as problem:
            if time.monotonic() - started > within:
                print(f"suite.py: {address} did not answer within {within} s: {problem}", file=sys.stderr)
                return
            time.sleep(0.05)
    waited = time.monotonic() - started
    if waited > 1:
        print(f"suite.py: {address} answered from here after {waited:.1f} s", file=sys.stderr)


def serve():
    """Accepts runs on SOCKET, one thread each, until killed."""
    import socket
    import threading

    # Settings are the application's: an import that needs them fails here, and is not kept
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    import coverage.execfile  # noqa: F401  what every run needs
    import django  # noqa: F401

    map_modules()

    forking = threading.Lock()
    children = {}
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET)
    # Runs come as the host's user, so the reports they write are theirs
    os.chmod(SOCKET, 0o777)
    server.listen(16)
    busy = Busy()
    idle = int(os.environ.get("SUITE_IDLE_SECS", "3600"))
    threading.Thread(target=end_when_unneeded, args=(busy, idle), daemon=True).start()
    while True:
        conn, _ = server.accept()
        busy.add(1)
        threading.Thread(target=serve_one, args=(conn, forking, children, busy), daemon=True).start()


# What the worker mounts of its checkout (its src/, its runs' directory)
MOUNTED = ("/application", "/runs")


def end_when_unneeded(busy, idle, every=1.0):
    """Ends the worker once the checkout it serves is gone, or no run came for `idle`
    seconds, as build daemons do; its container goes with it (`--rm`). A bind mount keeps
    showing a directory removed on the host, with no link left to it."""
    import time

    while True:
        time.sleep(every)
        gone = [path for path in MOUNTED if not os.path.exists(path) or os.stat(path).st_nlink == 0]
        if gone:
            print(f"suite.py: {', '.join(gone)} removed on the host: the checkout is gone, the worker ends", file=sys.stderr)
            os._exit(0)
        if busy.idle_for() > idle:
            print(f"suite.py: no run for {idle} s: the worker ends", file=sys.stderr)
            os._exit(0)


class Busy:
    """How many connections the worker is serving, and since when it serves none."""

    def __init__(self):
        import threading
        import time

        self.lock = threading.Lock()
        self.count = 0
        self.clock = time.monotonic
        self.since = self.clock()

    def add(self, n):
        with self.lock:
            self.count += n
            self.since = self.clock()

    def serving(self):
        with self.lock:
            return self.count

    def idle_for(self):
        """Seconds since the last connection ended (0 while one is served)."""
        with self.lock:
            return 0 if self.count else self.clock() - self.since


def serve_one(conn, forking, children, busy):
    try:
        serve_request(conn, forking, children, busy)
    finally:
        busy.add(-1)


def serve_request(conn, forking, children, busy):
    import signal
    import socket
    import struct
    import threading

    with conn:
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        request = parsed(message)
        if request["verb"] == "stop":
            pid = children.get(request["run"])
            if pid:
                kill(pid, signal.SIGTERM)
            return
        if request["verb"] == "retire":
            # A newer worker took this one's place: the runs in progress end here, then it does
            os.unlink(SOCKET)
            threading.Thread(target=retire, args=(busy,), daemon=True).start()
            return
        uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1:]
        learnt_r, learnt_w = os.pipe()
        with forking:
            pid = os.fork()
            if pid == 0:
                os.close(learnt_r)
                child(request, fds, uid, gid, learnt_w)
        os.close(learnt_w)
        for fd in fds:
            os.close(fd)
        children[request["run"]] = pid
        conn.sendall(f"pid {pid}\n".encode())
        # The client gone (its docker exec stopped) takes its run with it
        threading.Thread(target=stop_when_gone, args=(conn, pid), daemon=True).start()
        _, status = os.waitpid(pid, 0)
        children.pop(request["run"], None)
        code = os.waitstatus_to_exitcode(status)
        try:
            conn.sendall(f"exit {code if code >= 0 else 128 - code}\n".encode())
        except OSError:
            pass
        with os.fdopen(learnt_r) as learnt, forking:
            preload(learnt.read().split())


def parsed(message):
    """The request a client sent (`request`): its verb and, for a fork, the rest."""
    verb, *fields = message.decode("utf-8", "surrogateescape").split("\0")
    if verb != "fork":
        return {"verb": verb, "run": fields[0] if fields else None}
    run, cwd, count, *rest = fields
    args, env = rest[: int(count)], rest[int(count) :]
    return {"verb": verb, "run": run, "cwd": cwd, "args": args, "env": dict(item.split("=", 1) for item in env)}


def request(*fields):
    """A request's bytes: its fields joined by NUL (see the module's doc)."""
    return "\0".join(fields).encode("utf-8", "surrogateescape")


def retire(busy):
    """Ends the worker once it serves no connection (the one that retired it ends at once)."""
    import time

    while busy.serving() > 0:
        time.sleep(0.1)
    os._exit(0)


def stop_when_gone(conn, pid):
    import signal

    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    kill(pid, signal.SIGTERM)


def kill(pid, sig):
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def preload(names):
    """Imports the modules a child imported, where they are third-party: loaded once, in the
    worker, they are in every later child for free. One that fails to import is left out."""
    for name in names:
        if name not in sys.modules:
            try:
                __import__(name)
            except BaseException:  # a module that needs settings or apps: imported per run
                pass
    map_modules()


def map_modules():
    """Maps the file of every module loaded, as inspect.getmodule() does the first time a file
    is not in its map. Coverage's collector calls inspect.stack() every run, which would map
    the worker's hundreds of modules in each child: mapped here, a child maps none (every frame
    of that stack is the worker's: threading, this script, coverage)."""
    import inspect

    inspect.getmodule(compile("", os.devnull, "exec"))


def third_party(modules, application):
    """The names of `modules` loaded from the standard library or the virtualenv."""
    import sysconfig

    roots = tuple({sysconfig.get_path(key) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")})
    names = []
    for name, module in list(modules.items()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(roots) and not path.startswith(application + os.sep):
            names.append(name)
    return names


def child(request, fds, uid, gid, learnt):
    """A run: the client's stdio, environment, directory and user; then the suite."""
    import signal

    status = 1
    try:
        os.setsid()  # a group of its own, which `stop` and a vanished client end whole
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        if gid:
            os.setgroups([])
            os.setgid(gid)
        if uid:
            os.setuid(uid)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        status = run(request["args"])
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(learnt, "\n".join(third_party(sys.modules, request["cwd"])).encode())
    except BaseException as problem:
        import traceback

        traceback.print_exc()
        # As `python manage.py test` ends on a Ctrl-C: killed by SIGINT, as a shell says it
        status = 128 + signal.SIGINT if isinstance(problem, KeyboardInterrupt) else 1
    finally:
        os._exit(status)


def fork(run_name, args):
    """Hands this process's stdio to the worker's child for run `run_name`; its exit status."""
    import _signal
    import _socket

    conn = connect()
    env = [f"{key}={value}" for key, value in os.environ.items()]
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
    message = request("fork", run_name, os.getcwd(), str(len(args)), *args, *env)
    conn.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    pid = None

    # Ctrl-C on a terminal (`docker exec -it`) reaches this process: pass it on to the run
    def forward(sig, _frame):
        if pid:
            kill(pid, sig)

    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(sig, forward)
    answers = b""
    while chunk := conn.recv(256):
        answers += chunk
        while b"\n" in answers:
            line, _, answers = answers.partition(b"\n")
            word, value = line.split()
            if word == b"pid":
                pid = int(value)
            elif word == b"exit":
                return int(value)
    print("suite.py: the worker stopped before the run ended", file=sys.stderr)
    return 1


def tell(*fields):
    """Tells the worker the request `fields`, and waits until it has seen to it."""
    conn = connect()
    conn.sendall(request(*fields))
    conn.recv(1)
    return 0


def connect():
    """The worker's socket; it may still be starting."""
    import _socket
    import time

    deadline = time.monotonic() + 60
    while True:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            conn.connect(SOCKET)
            return conn
        except OSError:
            conn.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def main(argv):
    command, rest = (argv[0], argv[1:]) if argv else ("run", [])
    if command == "run":
        return run(rest)
    if command == "serve":
        return serve()
    if command == "fork" and rest:
        return fork(rest[0], rest[1:])
    if command == "stop" and len(rest) == 1:
        return tell("stop", rest[0])
    if command == "retire" and not rest:
        return tell("retire")
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
