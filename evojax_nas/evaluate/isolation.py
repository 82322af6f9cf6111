"""The OS layers around the trace sandbox, each applied by a small function that raises OSError when the
kernel refuses it. `apply_inside` applies them in order and reports each one, so the sandbox can fail
closed: a missing layer is named once and, unless isolation is "degraded", nothing runs.

Layers (all without root or system packages; they hold when the search runs as root):
- namespaces: new user, mount, pid, network and IPC namespaces. Inside a user namespace even root has no
  capability over the host: it cannot setns back, signal or ptrace the search, or reach its network.
  When the search runs as root, the sandbox's root is the host's `nobody` (SANDBOX_UID), so it owns no
  host file and the kernel's process limit applies to it (real root is exempt from RLIMIT_NPROC);
- disk: a size-limited tmpfs over /tmp, the sandbox's work directory (total disk, not only per file; the
  host's /tmp is out of sight);
- limits: address space, file size, open files, processes/threads, CPU time, no core dumps;
- no_new_privs and a parent-death signal, so no sandbox outlives the search;
- landlock: read only the Python installation and system libraries, write only the work directory, no
  TCP, signals and abstract sockets scoped to the sandbox;
- seccomp: no exec, no fork, no sockets, no ptrace, no namespace or mount changes (evaluate/seccomp.py).
The environment is built from ENV_ALLOWED alone, with HOME and TMPDIR set to the work directory.

The trusted train worker is confined too (`confine_worker`), since XLA parses and compiles the StableHLO a
sandbox sent: its own user and network namespaces (it keeps the search's uid, mapped: it reads the data cache
and the Python installation the search's user owns, which `nobody` may not), no_new_privs, Landlock (read
the Python installation, this project's packages and the data cache; write its work directory; an
accelerator's device nodes), seccomp without exec (seccomp.WORKER_DENIED), its address
space limited, and an environment of WORKER_ENV only."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import os
import resource
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evojax_nas.evaluate import landlock, seccomp

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
LAYERS = ("namespaces", "disk", "limits", "no_new_privs", "landlock", "seccomp")
WORKER_LAYERS = ("namespaces", "limits", "no_new_privs", "landlock", "seccomp")
ISOLATION_MODES = ("strict", "degraded")
ENV_ALLOWED = ("LANG", "LC_ALL", "PYTHONPATH")
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup: who a root search's sandboxes are on the host
# The tasks' data generators (MNIST-1D's, dm-clrs'): a sandbox that can rebuild a task's data can memorise it.
HIDDEN_PACKAGES = ("mnist1d", "clrs")
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/localtime", "/proc",
               "/sys/devices/system/cpu", "/sys/fs/cgroup", "/dev/urandom", "/dev/random", "/dev/zero")
# What a train worker's environment keeps: locale, import path, libraries, and the settings of jax, XLA and the
# accelerator runtimes; never the rest (API keys, tokens, cloud credentials).
WORKER_ENV = ("LANG", "LC_ALL", "PYTHONPATH", "LD_LIBRARY_PATH")
WORKER_ENV_PREFIXES = ("JAX_", "XLA_", "TF_CPP_", "CUDA_", "NVIDIA_", "TPU_", "LIBTPU_", "ROCM_", "HIP_", "NCCL_")
# An accelerator's device nodes (read, write, ioctl) and what its runtime reads of the system, for the worker.
ACCELERATOR_DEVICES = ("/dev/nvidia*", "/dev/nvidia-caps/*", "/dev/dri/*", "/dev/kfd", "/dev/accel*", "/dev/vfio/*")
ACCELERATOR_READ = ("/sys", "/etc/nvidia")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox."""

    memory_bytes: int = 4 << 30
    disk_bytes: int = 64 << 20
    cpu_seconds: int = 20  # SIGXCPU then; SIGKILL CPU_GRACE_S later
    open_files: int = 256
    threads: int = 256


def clean_env(home: str) -> dict[str, str]:
    """The sandbox's environment: allow-listed variables only, HOME/TMPDIR in its work directory, CPU-only
    JAX (the trace stage lowers for the train platform without touching an accelerator), one BLAS thread
    (a process that forks must be single-threaded)."""
    env = {k: os.environ[k] for k in ENV_ALLOWED if k in os.environ}
    env.update(HOME=home, TMPDIR=home, JAX_PLATFORMS="cpu", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PATH="/nonexistent", PYTHONDONTWRITEBYTECODE="1")
    return env


def worker_env(workdir: str, cache: str, device: int | None) -> dict[str, str]:
    """A train worker's environment: WORKER_ENV and the prefixed settings only, HOME and TMPDIR its work
    directory, the data cache named (HOME no longer finds it), its accelerator chosen."""
    env = {k: v for k, v in os.environ.items() if k in WORKER_ENV or k.startswith(WORKER_ENV_PREFIXES)}
    env.update(HOME=workdir, TMPDIR=workdir, EVOJAX_NAS_CACHE=cache, PATH="/nonexistent",
               PYTHONDONTWRITEBYTECODE="1")
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(device)
    return env


def worker_readable(cache: str) -> list[str]:
    """What a train worker may read: the interpreter and its import path, this project's packages, system
    libraries, an accelerator's system files, and the data cache."""
    import importlib.util

    packages = [os.path.dirname(spec.origin) for name in ("evojax_nas", "clrs_tasks")
                if (spec := importlib.util.find_spec(name)) is not None and spec.origin]
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             *packages, *sys.path, *SYSTEM_READ, *ACCELERATOR_READ, cache]
    return [p for p in dict.fromkeys(found) if p and p != "/" and os.path.exists(p)]


def accelerator_devices() -> list[str]:
    """The accelerator device nodes present on this machine."""
    import glob

    return sorted(p for pattern in ACCELERATOR_DEVICES for p in glob.glob(pattern))


def enter_worker_namespaces() -> None:
    """Unshare a user and a network namespace and map our own ids in it (the same uid and gid on the host,
    no capability there); re-arm the parent-death signal the change of credentials cleared. The process
    must have one thread."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNET), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    die_with_parent()


def confine_worker(memory_bytes: int, workdir: str, read: list[str], write: Sequence[str] = ()) -> dict[str, str]:
    """Apply the train worker's layers to this (single-threaded) process, in order; {layer: "ok" or why not}.
    It may read `read`, write `workdir` and `write` (the compile cache), and use the accelerator's device nodes."""
    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return _apply([("namespaces", enter_worker_namespaces), ("limits", limits), ("no_new_privs", no_new_privs),
                   ("landlock", lambda: landlock.restrict(read, [workdir, *write], ["/dev/null"],
                                                          accelerator_devices())),
                   ("seccomp", lambda: seccomp.install(seccomp.WORKER_DENIED))])


def _is_ancestor_or_same(path: Path, other: Path) -> bool:
    return path == other or path in other.parents


def readable_paths(hidden: Sequence[str]) -> list[str]:
    """What a sandbox may read: the interpreter, its libraries, this package, and system libraries. Never
    the user's home itself (only what lies in it that Python needs: the home of the account, not $HOME, which
    is the zygote's folder), the root directory, anything holding or inside a `hidden` path (the evaluator's
    folders, the data cache, the run directory), or the packages that would let it rebuild the task's data
    (HIDDEN_PACKAGES)."""
    import pwd

    import evojax_nas

    home = Path(pwd.getpwuid(os.getuid()).pw_dir).resolve()
    secret = [Path(p).resolve() for p in hidden]
    package = Path(evojax_nas.__file__).resolve().parent
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                  str(package), *sys.path, *SYSTEM_READ]
    out: list[str] = []
    for entry in candidates:
        if not entry or not os.path.exists(entry):
            continue
        path = Path(entry).resolve()
        if (path == Path("/") or path == package.parent or _is_ancestor_or_same(path, home)
                or any(_is_ancestor_or_same(path, s) or _is_ancestor_or_same(s, path) for s in secret)):
            continue
        if path.is_dir() and any((path / name).exists() for name in HIDDEN_PACKAGES):
            out += [str(child) for child in sorted(path.iterdir()) if not child.name.startswith(HIDDEN_PACKAGES)]
        elif str(path) not in out:
            out.append(str(path))
    return list(dict.fromkeys(out))


def enter_namespaces() -> None:
    """Unshare user, mount, pid, network and IPC namespaces; the parent then maps the ids (write_id_maps).
    The pid namespace takes effect for the next child, which becomes its init: when it dies, all of it dies."""
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC), "unshare")


def write_id_maps(pid: int) -> None:
    """From outside, map root inside process `pid`'s new user namespace to our uid/gid, or to nobody when
    we are root (only a process with CAP_SETUID outside may map another uid)."""
    uid, gid = (SANDBOX_UID, SANDBOX_GID) if os.getuid() == 0 else (os.getuid(), os.getgid())
    Path(f"/proc/{pid}/setgroups").write_text("deny")
    Path(f"/proc/{pid}/uid_map").write_text(f"0 {uid} 1")
    Path(f"/proc/{pid}/gid_map").write_text(f"0 {gid} 1")


def become_namespace_root() -> None:
    """Take the mapped ids (until now this process kept the host ids it had, unmapped inside), so that it
    is the host's SANDBOX_UID when the search is root; then re-arm the parent-death signal, which the
    kernel clears on a change of credentials."""
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    die_with_parent()


PRIVATE_TMP = "/tmp"  # where the tmpfs goes: any user may reach it, whatever the evaluator's folders allow


def mount_disk(workdir: str, size_bytes: int) -> None:
    """Make our mounts private and put a tmpfs of size_bytes over workdir (inside the mount namespace)."""
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    options = f"size={size_bytes},mode=0700".encode()
    _check(_libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount tmpfs")
    # A /proc of our own pid namespace hides the host's processes. Where the kernel refuses it (a
    # container's masked /proc), Landlock still denies reading other processes' memory and environment.
    _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)


CPU_GRACE_S = 5  # between the CPU limit's SIGXCPU (the sandbox reports a timeout) and its SIGKILL


def set_limits(limits: Limits) -> None:
    """Address space, file size, open files, threads, CPU time; no core dumps."""
    for which, value in ((resource.RLIMIT_AS, limits.memory_bytes), (resource.RLIMIT_FSIZE, limits.disk_bytes),
                         (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_NPROC, limits.threads),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(which, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + CPU_GRACE_S))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing us


def no_new_privs() -> None:
    """No setuid gains, ever; required for unprivileged seccomp and Landlock."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (checked at once: the parent may already be gone)."""
    parent = os.getppid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os._exit(1)


def apply_inside(fallback_workdir: str, limits: Limits, read: list[str], namespaces: str
                 ) -> tuple[dict[str, str], str]:
    """In the sandbox process (the pid namespace's init), apply every layer after the namespaces; return
    ({layer: "ok" or why it failed}, the work directory). `namespaces` is how entering them went, reported
    by the parent. The work directory is a private tmpfs at PRIVATE_TMP, or without a mount namespace
    `fallback_workdir` (a host folder the evaluator made)."""
    workdir = PRIVATE_TMP if namespaces == "ok" else fallback_workdir

    def disk() -> None:
        try:
            if namespaces != "ok":
                _unavailable("needs the mount namespace")
            mount_disk(workdir, limits.disk_bytes)
        finally:
            os.chdir(workdir)  # after the mount: the tmpfs, not the directory under it
            os.environ.update(clean_env(workdir))

    report = _apply([("disk", disk), ("limits", lambda: set_limits(limits)), ("no_new_privs", no_new_privs),
                     ("landlock", lambda: landlock.restrict(read, [workdir], ["/dev/null"])),
                     ("seccomp", seccomp.install)])
    return {"namespaces": namespaces, **report}, workdir


def _apply(steps: list[tuple[str, Callable[[], Any]]]) -> dict[str, str]:
    """Apply each layer in turn, whether or not the one before applied; {layer: "ok" or why it failed}."""
    report = {}
    for layer, apply in steps:
        try:
            apply()
            report[layer] = "ok"
        except OSError as err:
            report[layer] = str(err)
    return report


def _unavailable(why: str) -> None:
    raise OSError(errno.ENOTSUP, why)


def missing(report: dict[str, str], layers: tuple[str, ...] = LAYERS) -> list[str]:
    """The layers of a report that did not apply, each with its reason."""
    return [f"{layer} ({report.get(layer, 'not reported')})" for layer in layers if report.get(layer) != "ok"]
