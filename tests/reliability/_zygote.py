"""Fork server for the reliability suite: import steerid once, then fork one real process per run.

Starting ``python -m steerid.cli`` costs several CPU-seconds of imports (torch, transformers,
sklearn, scipy, pandas); the kill/resume, lock and no-traceback tests need many separate
processes. This server imports everything once, with torch pinned to one thread *before* any
tensor operation (GNU OpenMP is not fork-safe once its thread pool exists), then forks a child
per request. Each child is an ordinary OS process: its stdin is ``/dev/null``, its stdout and
stderr are files, it can be SIGKILLed, and an exception escaping ``steerid.cli.main`` is
printed as the interpreter would print it (a traceback) with exit status 1.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.

``{"op": "spawn", "argv": [...], "cwd": DIR, "stdout": FILE, "stderr": FILE, "env": {...}}``
    fork a child running ``steerid.cli.main(argv)`` → ``{"pid": N}``.
``{"op": "call", "target": "module:function", "args": [...], ...same keys}``
    fork a child running ``function(*args)`` → ``{"pid": N}``.
``{"op": "wait", "pid": N, "timeout": S}``
    reap it → ``{"rc": code, "timed_out": bool}``; ``rc`` is ``-signal`` when killed by a signal;
    on timeout the child is SIGKILLed first.
``{"op": "quit"}``
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback


def _reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _redirect(request: dict) -> None:
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                            (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        new = os.open(path, flags, 0o644)
        os.dup2(new, fd)
        os.close(new)


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(request: dict) -> None:
    code = 1
    try:
        _redirect(request)
        os.chdir(request["cwd"])
        os.environ.update(request.get("env") or {})
        if request["op"] == "spawn":
            from steerid.cli import main

            main(request["argv"])
        else:
            module, _, name = request["target"].partition(":")
            getattr(importlib.import_module(module), name)(*request.get("args", []))
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:  # what the interpreter does with an uncaught exception: print it, exit 1
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline and not timed_out:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return {"rc": rc, "timed_out": timed_out}


def slow_atomic_write(target: str, ready: str, n_chunks: int = 200) -> None:
    """Write ``target`` atomically, one 64 KiB chunk at a time, touching ``ready`` after the first.

    Used to SIGKILL a process in the middle of an atomic write.
    """
    from steerid.io import atomic_write_with

    def writer(tmp) -> None:
        with open(tmp, "wb") as handle:
            for index in range(n_chunks):
                handle.write(bytes([index % 251]) * 65536)
                handle.flush()
                if index == 0:
                    with open(ready, "w", encoding="utf-8") as flag:
                        flag.write(str(tmp))
                time.sleep(0.05)

    atomic_write_with(target, writer)


def main() -> None:
    # Ctrl-C is tested as a foreground audit sees it. A suite started in the background of a
    # non-interactive shell (`pytest &`) inherits SIGINT ignored, and Python then keeps it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(1)  # before any tensor op: no OpenMP pool exists when we fork
    missing = {}
    for name in sys.argv[1:]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing[name] = f"{type(exc).__name__}: {exc}"
    _reply({"ready": True, "missing": missing})
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op in ("spawn", "call"):
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            _reply({"pid": pid})
        elif op == "wait":
            _reply(_wait(int(request["pid"]), float(request.get("timeout", 300))))
        elif op == "quit":
            _reply({"bye": True})
            return
        else:
            _reply({"error": f"unknown op {op!r}"})


if __name__ == "__main__":
    main()
