# expect: crash
# kind: os-boundary
# attack: syscalls not in the seccomp list, through ctypes: raise RLIMIT_AS/NPROC/FSIZE back (setrlimit, prlimit64 on pid 1 = itself), pidfd_open + pidfd_send_signal and process_madvise on pid 1, quotactl_fd, fanotify_init, iopl/ioperm, modify_ldt, memfd_secret, SysV msgget/msgsnd (a queue hoard), mq_open, sched_setscheduler(SCHED_FIFO), setpriority(-20), sendmsg SCM_RIGHTS of an fd over the reply socket; it reports each return code in the message and raises: nothing here may widen what the sandbox reaches (limits must stay, no host process reachable)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
CT = B["__import__"]("ctypes")
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, RES, STAT, SOCKET = MODS["os"], B["__import__"]("resource"), MODS["stat"], MODS["socket"]
LIBC = CT.CDLL(None, use_errno=True)
OUT = []


def call(label, thunk):
    try:
        result = thunk()
        OUT.append(f"{label}={result} errno={CT.get_errno()}")
    except Exception as err:
        OUT.append(f"{label}!{err!r}")


INF = RES.RLIM_INFINITY
call("getrlimit(AS)", lambda: RES.getrlimit(RES.RLIMIT_AS))
call("setrlimit(AS,inf)", lambda: RES.setrlimit(RES.RLIMIT_AS, (INF, INF)))
call("setrlimit(NPROC,inf)", lambda: RES.setrlimit(RES.RLIMIT_NPROC, (INF, INF)))
call("prlimit(1,FSIZE,inf)", lambda: RES.prlimit(1, RES.RLIMIT_FSIZE, (INF, INF)))
call("rlimits now", lambda: [RES.getrlimit(r) for r in (RES.RLIMIT_AS, RES.RLIMIT_NPROC, RES.RLIMIT_FSIZE)])
PIDFD = LIBC.syscall(434, 1, 0)
OUT.append(f"pidfd_open(1)={PIDFD} errno={CT.get_errno()}")
call("pidfd_send_signal(0)", lambda: LIBC.syscall(424, PIDFD, 0, None, 0))
call("process_madvise", lambda: LIBC.syscall(440, PIDFD, None, 0, 8, 0))
call("quotactl_fd", lambda: LIBC.syscall(443, 0, 0x800002, 0, None))
call("fanotify_init", lambda: LIBC.syscall(300, 0x00000200, 0))
call("iopl(3)", lambda: LIBC.syscall(172, 3))
call("ioperm", lambda: LIBC.syscall(173, 0x80, 1, 1))
call("modify_ldt", lambda: LIBC.syscall(154, 0, None, 0))
call("memfd_secret", lambda: LIBC.syscall(447, 0))
QID = LIBC.msgget(0, 0o1000 | 0o600)
OUT.append(f"msgget={QID} errno={CT.get_errno()}")
MSG = CT.create_string_buffer(8 + 8192)
SENT = 0
for i in B["range"](4):
    SENT += LIBC.msgsnd(QID, MSG, 8192, 0o4000) == 0  # IPC_NOWAIT
OUT.append(f"msgsnd ok {SENT}")
call("mq_open", lambda: LIBC.mq_open(b"/evonas", 0o100 | 2, 0o600, None))
PARAM = CT.c_int(50)
call("sched_setscheduler(FIFO)", lambda: LIBC.sched_setscheduler(0, 1, CT.byref(PARAM)))
call("setpriority(-20)", lambda: LIBC.setpriority(0, 0, -20))
for fd in B["range"](3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            SOCK = AG("socket")(SOCKET)(fileno=OS.dup(fd))
            call(f"sendmsg SCM_RIGHTS fd {fd}", lambda: SOCKET.send_fds(SOCK, [b""], [0]))
    except Exception as err:
        OUT.append(f"fd {fd}: {err!r}")
raise RuntimeError(" | ".join(OUT))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
