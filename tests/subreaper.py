#!/usr/bin/env python3
"""subreaper.py CMD [ARGS...]: run CMD as a child subreaper (PR_SET_CHILD_SUBREAPER).

A lab's daemon, its monitors and its infrastructure run detached: once their
parent is gone they are reparented to the nearest subreaper, else to PID 1.
Where PID 1 reaps lazily (this CI machine's init reaps orphans only every
1-2 s), a process that has exited stays a zombie that long, and whatever
waits for it with kill(pid, 0) -- `cluster down` waiting for its daemon, a
daemon stopping adopted processes -- waits with it: 2 s for every lab_down,
9 s after a daemon restart. Under this wrapper they are reaped at once, as
systemd or any ordinary init does. Exit status: CMD's; signals are passed on.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
child = os.fork()
if child == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, lambda n, _f: os.kill(child, n))
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        sys.exit(1)
    except InterruptedError:
        continue
    if pid == child:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        sys.exit(code)
