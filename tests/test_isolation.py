"""The OS boundary: hostile programs that get past the static check (tests/hostile_os/) are contained by
the trace sandbox, the parent survives whatever a sandbox sends, the train stage never runs candidate
code, and isolation that cannot be had is refused (or named and degraded on request)."""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from evojax_nas.evaluate import Evaluator, EvaluatorConfig, frames
from evojax_nas.evaluate.result import Result, clean_message
from evojax_nas.evaluate.sandbox import parse_trace
from evojax_nas.programs import Program
from evojax_nas.tasks.classifier import METRICS
from evojax_nas.tasks.mnist1d import Mnist1D
from evojax_nas.train import default_config
from tests.conftest import ROOT, SEEDS, evaluation_processes

# One process evaluates the corpus (a module fixture): under `-n 2 --dist loadgroup` not both
pytestmark = pytest.mark.xdist_group("isolation")
HOSTILE_OS = sorted((Path(__file__).parent / "hostile_os").glob("*.py"))
SECRET_HOME = Path("/var/tmp/evonas-hostile-home")  # where the corpus looks for the user's secrets (on the
# host's disk: a sandbox's /tmp is its own tmpfs, so Landlock must be what keeps it out)
PORT = 47631  # where the corpus tries to connect
MARKER = "evonas-pwned"  # every file the corpus tries to write outside its sandbox has this in its name
DATA_SEED = 1_987_654_321  # the corpus's private data (a run draws its own; fixed here to score by hand)


def train_config(steps: int = 20) -> dict:
    train = default_config()
    train.num_steps, train.strategy = steps, "python-vmap"
    return train.to_dict()


def expected(path: Path, what: str) -> str | None:
    found = re.search(rf"^# {what}: (.+)$", path.read_text(), re.M)
    return found.group(1).strip() if found else None


def escaped_files() -> list[str]:
    site = Path(np.__file__).parents[1]
    places = [Path("/tmp"), Path("/var/tmp"), SECRET_HOME, site, ROOT, Path.cwd()]
    found = [str(p) for place in places for p in place.glob(f"*{MARKER}*")]
    # trusted processes of the test (matplotlib) keep their caches in this HOME too
    found += [str(p) for p in SECRET_HOME.rglob("*") if MARKER in p.name or (
        p.name != "secret.txt" and p.relative_to(SECRET_HOME).parts[0] not in (".cache", ".config"))]
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    env_secret, file_secret = secrets.token_hex(16), secrets.token_hex(16)
    SECRET_HOME.mkdir(exist_ok=True)
    (SECRET_HOME / "secret.txt").write_text(file_secret)
    saved = {k: os.environ.get(k) for k in ("HOME", "EVONAS_TEST_SECRET")}
    os.environ.update(HOME=str(SECRET_HOME), EVONAS_TEST_SECRET=env_secret)
    tcp = socket.create_server(("127.0.0.1", PORT), reuse_port=False)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0evonas-test")
    for listener in (tcp, unix):
        listener.listen(16)
        listener.setblocking(False)
    leftovers = escaped_files()
    metadata = [(p, _metadata(p)) for p in (SECRET_HOME, SECRET_HOME / "secret.txt")]
    programs = [Program.from_file(p) for p in HOSTILE_OS] + [Program.from_file(SEEDS / "mlp.py")]
    # 2 GB of address space is twice what tracing the good program needs and halves what the memory bombs touch
    # before they are stopped, which on a loaded machine decided between "oom" and "timeout"; 20 s of CPU time is
    # over four times what the slowest program (trace-time training) needs, and twice the 10 s that one CI machine
    # spent touching the gradual bomb's 2 GB (it timed out); 16 threads on 2 cores spend it before the 25 s deadline
    config = EvaluatorConfig(train_config=train_config(), timeout_s=60, trace_timeout_s=25, trace_cpu_s=20,
                             memory_bytes=4 << 30, trace_memory_bytes=2 << 30, data_seed=DATA_SEED)
    try:
        with Evaluator(config) as evaluator:
            results = evaluator.evaluate(programs)
            logs = "".join(p.read_text(errors="replace") for p in evaluator.log_dir.rglob("*.log"))
            restarts = evaluator.restarts
        time.sleep(1.0)
        connections = []
        for listener in (tcp, unix):
            try:
                connections.append(listener.accept())
            except BlockingIOError:
                pass
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        tcp.close()
        unix.close()
    return {"results": dict(zip([p.name for p in HOSTILE_OS] + ["good"], results, strict=True)),
            "secrets": (env_secret, file_secret), "logs": logs, "connections": connections,
            "escaped": [f for f in escaped_files() if f not in leftovers], "survivors": evaluation_processes(),
            "metadata": [(str(p), before, _metadata(p)) for p, before in metadata], "restarts": restarts}


@pytest.fixture(scope="module")
def private_task():
    """The data the corpus was evaluated on: MNIST-1D's recipe from the private seed."""
    return Mnist1D(data_seed=DATA_SEED).data()


def _metadata(path: Path) -> tuple:
    st = path.stat()  # a folder's mtime changes when trusted code of the test writes its caches there
    return st.st_mode, st.st_uid, st.st_gid, path.is_dir() or st.st_mtime_ns, sorted(os.listxattr(path))


def test_corpus_covers_every_kind_of_attack():
    assert len(HOSTILE_OS) >= 25
    kinds = {expected(p, "kind") for p in HOSTILE_OS}
    assert kinds >= {"attribute-chain", "string-eval", "file-access", "rigged-score", "take-down", "os-boundary",
                     "rigged-size", "forged-program"}


@pytest.mark.parametrize("path", HOSTILE_OS, ids=lambda p: p.stem)
def test_hostile_program_gets_its_expected_outcome(corpus, path):
    result = corpus["results"][path.name]
    got = "ok" if result.ok else result.failure.kind
    assert got == expected(path, "expect"), result.failure and result.failure.message


def test_the_parent_returns_a_result_for_every_program(corpus):
    assert all(r.ok or r.failure is not None for r in corpus["results"].values())
    good = corpus["results"]["good"]
    assert good.ok and good.metrics["params"] == 15_210


def test_no_file_appears_outside_the_sandbox(corpus):
    assert corpus["escaped"] == []


def test_no_file_outside_the_sandbox_changes_mode_owner_times_or_attributes(corpus):
    for path, before, after in corpus["metadata"]:
        assert before == after, path


def test_no_process_survives(corpus):
    assert corpus["survivors"] == set()


def test_nothing_reaches_a_listener_on_the_host(corpus):
    assert corpus["connections"] == []


def test_no_secret_appears_in_any_output_or_log(corpus):
    text = json.dumps([r.to_dict() for r in corpus["results"].values()]) + corpus["logs"]
    for secret in corpus["secrets"]:
        assert secret not in text


def test_a_rigged_program_gets_what_its_outputs_earn(corpus, private_task):
    # Its logits are all zeros, so argmax says class 0 for every example, whatever it patched.
    zero_class = float(np.mean(private_task.y_val == 0))
    rigged = [p for p in HOSTILE_OS if expected(p, "score") == "zero-outputs"]
    assert rigged
    for path in rigged:
        assert corpus["results"][path.name].metrics["val_accuracy_mean"] == pytest.approx(zero_class, abs=1e-6)


def test_a_program_cannot_rebuild_and_memorise_the_evaluation_data(corpus):
    # The data generator is hidden from sandboxes, so a lookup table of the validation set cannot be built.
    memorisers = [p for p in HOSTILE_OS if expected(p, "score") == "not-memorised"]
    assert memorisers
    for path in memorisers:
        assert corpus["results"][path.name].metrics["val_accuracy_mean"] < 0.8


def test_a_program_that_rebuilds_the_published_data_memorises_nothing_and_is_counted_at_its_size(corpus):
    # It rebuilds the published MNIST-1D bit for bit (1.000 with 1 parameter on the published data, before this
    # change); the evaluation data comes from the private seed, so its table is a nearest-neighbour classifier of
    # 1,500 published rows (what that honestly earns, about 0.5), and the 61,500 numbers it bakes in count
    m = corpus["results"]["memorise_recipe.py"].metrics
    assert m["val_accuracy_mean"] < 0.6 and m["params"] >= 1_500 * 40 + 1_500


def test_weights_trained_at_trace_time_and_baked_in_count_at_their_real_size(corpus):
    # the 8,010 weights trained while the module loaded are constants of its forward pass: size 8,010 + 1, not 1
    m = corpus["results"]["bake_trained_weights.py"].metrics
    assert m["params"] >= 8_010 + 1


def test_every_real_a_network_carries_is_counted(corpus):
    for path in [p for p in HOSTILE_OS if expected(p, "size")]:
        assert corpus["results"][path.name].metrics["params"] == int(expected(path, "size")), path.name


def test_flops_width_and_depth_come_from_the_computation_not_from_names_or_xla(corpus):
    checked = [p for p in HOSTILE_OS if expected(p, "width")]
    assert len(checked) >= 2
    for path in checked:
        m = corpus["results"][path.name].metrics
        assert (m["width"], m["depth"]) == (int(expected(path, "width")), int(expected(path, "depth"))), path.name
        if expected(path, "flops"):  # the loop's body 50 times, and its counter
            real = eval(expected(path, "flops"))  # noqa: S307 (an arithmetic expression of the test corpus)
            assert real <= m["flops"] <= 1.001 * real, (path.name, m["flops"], real)


def test_custom_calls_outside_what_jax_emits_are_refused_before_compilation_and_no_worker_dies(corpus):
    for path in [p for p in HOSTILE_OS if expected(p, "kind") == "forged-program"]:
        failure = corpus["results"][path.name].failure
        assert failure.kind == "forbidden" and ("custom call" in failure.message or "form" in failure.message)
    assert corpus["restarts"] == 0  # no train worker died, by a signal or otherwise


def test_only_the_trusted_stage_calls_a_program_a_duplicate(corpus):
    failure = corpus["results"]["forge_duplicate.py"].failure
    assert failure.kind == "crash" and "claimed a duplicate" in failure.message


def test_a_message_of_lone_surrogates_reaches_a_strict_terminal_as_valid_utf8(corpus):
    message = corpus["results"]["surrogate_message.py"].failure.message
    assert message.encode("utf-8", errors="strict") and "\ufffd" in message and "\x1b" not in message
    out = subprocess.run([sys.executable, "-c", "import sys; print(sys.stdin.read())"], input=message,
                         capture_output=True, text=True, encoding="utf-8", errors="strict", check=True)
    assert out.stdout.strip() == message


def test_the_trace_stage_gets_a_cpu_time_budget(corpus):
    failure = corpus["results"]["cpu_burn_threads.py"].failure
    assert failure.kind == "timeout" and "CPU time" in failure.message


def test_a_program_evaluated_after_the_riggers_gets_its_own_score(corpus, private_task):
    # The honest MLP, traced after programs that patched jax, flax and numpy in their own sandboxes, scores
    # exactly what the trusted trainer gives it here.
    from tests.test_trainer import model, trainer

    reference = trainer(private_task, num_steps=20, strategy="python-vmap"
                        ).train(model("mlp", seed_counts=(1,)))
    assert corpus["results"]["good"].metrics["val_accuracy"] == reference.val_accuracy


def test_every_kind_of_layer_trains_through_both_stages():
    # BatchNorm state, Dropout's RNG, a GRU scanned over the signal and self-attention, two seeds at once
    source = textwrap.dedent('''
        import flax.linen as nn


        class Model(nn.Module):
            @nn.compact
            def __call__(self, x, train=False):
                h = nn.relu(nn.Conv(8, (5,), strides=2)(x[..., None]))
                h = nn.BatchNorm(use_running_average=not train)(h)
                h = nn.Dropout(0.1, deterministic=not train)(h)
                h = nn.RNN(nn.GRUCell(8))(h)
                h = h + nn.SelfAttention(num_heads=2)(nn.LayerNorm()(h))
                return nn.Dense(10)(h.mean(axis=1))
    ''')
    config = EvaluatorConfig(train_config={**train_config(60), "num_seeds": 2})
    with Evaluator(config) as evaluator:
        (result,) = evaluator.evaluate([Program(source)])
    assert result.ok, result.failure
    m = result.metrics
    # the seeds differ in their loss; an accuracy is a count of 1,000 and two seeds may tie (one CI did, 0.302)
    assert len(m["val_accuracy"]) == 2 and m["final_loss"][0] != m["final_loss"][1]
    assert m["val_accuracy_mean"] > 0.15 and m["params"] > 500 and m["flops"] > m["params"]


# -- the train stage never runs candidate code --------------------------------------------------------

NEVER_HERE = textwrap.dedent('''
    import json, math, sys
    seen = []
    sys.addaudithook(lambda event, args: seen.append(event) if event in ("compile", "exec") and
                     "evonas-candidate-marker" in repr(args) else None)
    from pathlib import Path
    from evojax_nas.evaluate import isolation
    from evojax_nas.evaluate.sandbox import TraceSandbox
    from evojax_nas.tasks import get_task
    from evojax_nas.train import Trainer, default_config
    from evojax_nas.train.exported import ExportedNetwork
    source = sys.stdin.read()
    task = get_task("mnist1d")
    config = default_config(); config.num_steps = 5; config.strategy = "python-vmap"
    spec = task.trace_spec("cpu", config)
    sandbox = TraceSandbox(Path(sys.argv[1]), isolation.Limits(), "strict", task.tracer,
                           {"source": task.warm_up, "spec": spec})
    layers, blobs = sandbox.run({"id": "x", "source": source, "spec": spec, "seed_counts": [1]}, 60)
    sandbox.close()
    result = Trainer(task.data(), config).train(ExportedNetwork.from_bytes(blobs))
    print(json.dumps({"events": seen, "patched": hasattr(math, "evonas_touched"), "params": result.params,
                      "candidates": [m for m in sys.modules if m.startswith("candidate_")], "layers": layers}))
''')
CANDIDATE = textwrap.dedent('''
    import math
    import flax.linen as nn

    TAG = "evonas-candidate-marker"
    math.evonas_touched = True  # module code: if it ran in the training process, this shows there


    class Model(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            return nn.Dense(10)(nn.relu(nn.Dense(7)(x)))
''')


def test_the_training_process_never_executes_the_candidates_module_code(tmp_path):
    out = subprocess.run([sys.executable, "-c", NEVER_HERE, str(tmp_path)], input=CANDIDATE, capture_output=True,
                         text=True, timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["params"] == 40 * 7 + 7 + 7 * 10 + 10  # it trained the candidate's network
    assert report["events"] == [] and not report["patched"] and report["candidates"] == []
    assert set(report["layers"].values()) == {"ok"}


# -- isolation that cannot be had ---------------------------------------------------------------------

WITHOUT_USERNS = textwrap.dedent('''
    import json, sys
    from evojax_nas.evaluate import isolation, seccomp
    isolation.no_new_privs()
    seccomp.install(denied=("unshare",), restrict_clone=False)  # as a kernel without user namespaces
    from evojax_nas.evaluate import Evaluator, EvaluatorConfig, IsolationUnavailable
    from evojax_nas.programs import Program
    from evojax_nas.train import default_config
    train = default_config(); train.num_steps = 5; train.strategy = "python-vmap"
    config = EvaluatorConfig(train_config=train.to_dict(), isolation=sys.argv[1])
    try:
        with Evaluator(config) as ev:
            (result,) = ev.evaluate([Program.from_file(sys.argv[2])])
            print(json.dumps({"ok": result.ok, "layers": ev.isolation_report()}))
    except IsolationUnavailable as err:
        print(json.dumps({"refused": str(err)}))
''')


def _without_user_namespaces(mode: str) -> tuple[dict, str]:
    out = subprocess.run([sys.executable, "-c", WITHOUT_USERNS, mode, str(SEEDS / "mlp.py")], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_evaluation_is_refused_with_one_line_when_isolation_is_unavailable():
    report, _ = _without_user_namespaces("strict")
    message = report["refused"]
    assert "\n" not in message and "namespaces" in message and "eval.isolation = 'degraded'" in message


def test_degraded_isolation_names_what_is_missing_and_runs():
    report, stderr = _without_user_namespaces("degraded")
    assert report["ok"]
    assert report["layers"]["namespaces"] != "ok" and report["layers"]["seccomp"] == "ok"
    assert report["layers"]["landlock"] == "ok"
    assert stderr.count("trace sandbox degraded") == 1


# -- equal computations, hostile replies ----------------------------------------------------------------

def test_two_texts_with_the_same_computation_are_trained_once_across_calls():
    first = (SEEDS / "mlp.py").read_text()
    second = textwrap.dedent('''
        import flax.linen as nn
        import jax

        WIDTH = 50 * 2


        def block(h, width):  # the same layers, written another way
            return jax.nn.relu(nn.Dense(features=width)(h))


        class Model(nn.Module):
            @nn.compact
            def __call__(self, inputs, train=False):
                hidden = block(block(inputs, WIDTH), WIDTH)
                return nn.Dense(10)(hidden)
    ''')
    with Evaluator(EvaluatorConfig(train_config=train_config(5), num_workers=2)) as evaluator:
        a, b = evaluator.evaluate([Program(first), Program(second)])
        # in one call both train, to the same numbers: which would be the duplicate is down to timing
        assert a.ok and b.ok and a.computation == b.computation and a.metrics["final_loss"] == b.metrics["final_loss"]
        third = Program(second.replace("WIDTH = 50 * 2", "WIDTH = 100"))
        c, = evaluator.evaluate([third])  # a later call does not train it again
    assert c.failure is not None and c.failure.kind == "duplicate", c
    assert min(a.program_id, b.program_id) in c.failure.message
    with Evaluator(EvaluatorConfig(train_config=train_config(5))) as resumed:
        resumed.remember([a])  # what a run logged before a crash
        d, = resumed.evaluate([third])
    assert d.failure is not None and d.failure.kind == "duplicate" and a.program_id in d.failure.message


def test_a_frame_reader_survives_hostile_bytes():
    peers = []

    def reader_for(data: bytes, close: bool = True) -> frames.FrameReader:
        ours, theirs = socket.socketpair()
        theirs.sendall(data)
        if close:
            theirs.close()
        peers.append(theirs)
        return frames.FrameReader(ours, limit=1000)

    half = reader_for(frames.HEADER.pack(100) + b'{"a"')
    assert half.read() == [] and half.truncated
    with pytest.raises(frames.FrameError, match="over the limit"):
        reader_for(frames.HEADER.pack(2**60)).read()
    with pytest.raises(frames.FrameError, match="not JSON"):
        reader_for(frames.HEADER.pack(3) + b"\xff\x00{").read()
    nested = b"[" * 100_000 + b"]" * 100_000
    for containers, error in ((10_000, "objects and arrays"), (1 << 20, "not JSON")):  # amplification, depth
        with pytest.raises(frames.FrameError, match=error):
            reader = frames.FrameReader(socket.socketpair()[0], limit=1 << 20, max_containers=containers)
            reader.buffer += frames.HEADER.pack(len(nested)) + nested
            reader.closed = True
            reader.read()
    with pytest.raises(frames.FrameError):
        reader = frames.FrameReader(socket.socketpair()[0], limit=1 << 20)
        reader.buffer += frames.HEADER.pack(len(nested)) + nested
        reader.closed = True
        reader.read()
    waiting = reader_for(frames.HEADER.pack(10) + b"{", close=False)
    assert waiting.read() == [] and not waiting.closed  # no block: the caller's deadline decides
    whole = reader_for(frames.HEADER.pack(2) + b"{}" + frames.HEADER.pack(1) + b"1")
    assert whole.read() == [{}, 1] and whole.closed and not whole.truncated


def test_replies_are_validated_against_the_schema():
    good = {"val_accuracy_mean": 0.9, "test_accuracy_mean": 0.9, "params": 10, "flops": 1.0,
            "val_accuracy": [0.9], "test_accuracy": [0.9], "final_loss": [0.1]}
    assert Result.from_worker("p", {"id": "p", "metrics": good}, 1.0, METRICS).ok
    for bad in ({"params": 0}, {"val_accuracy_mean": 1.5}, {"val_accuracy": [2.0]}, {"params": True},
                {"final_loss": "x"}, {"flops": -1.0}):
        result = Result.from_worker("p", {"id": "p", "metrics": {**good, **bad}}, 1.0, METRICS)
        assert result.failure.kind == "crash", bad
    assert Result.from_worker("p", {"id": "q", "metrics": good}, 1.0, METRICS).failure.kind == "crash"
    forged = parse_trace("p", {"id": "p", "metrics": good}, 1.0)
    assert isinstance(forged, Result) and forged.failure.kind == "crash"
    assert isinstance(parse_trace("p", {"id": "p", "programs": {"../x": "AA=="}}, 1.0), Result)


def test_failure_messages_are_one_clean_capped_line():
    text = clean_message("a\x1b[31mred\x1b[0m\nnext\u202eline\x00" + "x" * 5000)
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert len(text) <= 2000 and text.startswith("a [31mred [0m next line")


# -- the train worker is confined too ---------------------------------------------------------------------

def test_the_train_worker_runs_confined_with_a_clean_environment(monkeypatch):
    monkeypatch.setenv("EVONAS_TEST_API_KEY", "sk-not-for-the-worker")
    with Evaluator(EvaluatorConfig(train_config=train_config(5))) as evaluator:
        (result,) = evaluator.evaluate([Program.from_file(SEEDS / "mlp.py")])
        worker = evaluator.backend.workers[0]
        pid = worker.process.pid
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        namespaces = {ns: os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
                      for ns in ("user", "net")}
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert result.ok and set(worker.layers.values()) == {"ok"}
    assert status["Seccomp"].strip() == "2" and status["NoNewPrivs"].strip() == "1"
    assert namespaces == {"user": True, "net": True}
    assert b"EVONAS_TEST_API_KEY" not in environ and b"sk-not-for-the-worker" not in environ


CONFINED = textwrap.dedent('''
    import json, os, socket, sys
    from pathlib import Path
    from evojax_nas.evaluate import isolation
    workdir, cache, secret, port = sys.argv[1:5]
    report = isolation.confine_worker(4 << 30, workdir, isolation.worker_readable(cache))
    def attempt(fn):
        try:
            fn()
            return "done"
        except OSError as err:
            return type(err).__name__
    tried = {
        "exec": attempt(lambda: os.execv("/bin/true", ["true"])),
        "fork": attempt(os.fork) if False else attempt(lambda: os.waitpid(os.fork() or os._exit(0), 0)),
        "read_secret": attempt(lambda: Path(secret).read_text()),
        "write_outside": attempt(lambda: Path(secret).with_name("evonas-pwned-worker").write_text("x")),
        "connect": attempt(lambda: socket.create_connection(("127.0.0.1", int(port)), timeout=2)),
        "read_cache": attempt(lambda: Path(cache, "data.npz").read_bytes()),
        "write_workdir": attempt(lambda: Path(workdir, "scratch").write_text("x")),
    }
    print(json.dumps({"layers": report, "tried": tried}))
''')


def test_a_confined_worker_cannot_exec_fork_reach_secrets_write_elsewhere_or_connect(tmp_path):
    # What XLA would do for a program that corrupted it: the worker's own layers, applied as the worker does
    workdir, cache, home = tmp_path / "work", tmp_path / "cache", SECRET_HOME
    for folder in (workdir, cache, home):
        folder.mkdir(exist_ok=True)
    (cache / "data.npz").write_bytes(b"data")
    (home / "secret.txt").write_text("secret")
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        out = subprocess.run([sys.executable, "-c", CONFINED, str(workdir), str(cache), str(home / "secret.txt"),
                              str(listener.getsockname()[1])], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    finally:
        listener.close()
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(report["layers"].values()) == {"ok"}
    tried = report["tried"]
    assert tried["exec"] == tried["fork"] == "PermissionError"
    assert tried["read_secret"] == tried["write_outside"] == "PermissionError"
    assert tried["connect"] != "done"  # its network namespace has no route to the host's loopback
    assert tried["read_cache"] == tried["write_workdir"] == "done"
    assert not list(home.glob("*pwned*"))


# -- the private data seed ------------------------------------------------------------------------------------

PROBE = '''
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
SYS = AG("__globals__")(typing.cast)["sys"]
GC, OS = AG("modules")(SYS)["gc"], AG("modules")(SYS)["os"]
DIGITS = {digits!r}  # the needle's digits reversed: this module's own text and globals do not hold it
FILE = {path!r}
CONTROL = "evojax_nas.tasks.classifier_trace:trace_job"  # in the zygote's setup: a probe that cannot see it is blind


def places(needle):
    number = int(needle) if needle.isdigit() else None
    found = []
    for obj in GC.get_objects():
        values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list | tuple | set) else ()
        for value in values:
            if (isinstance(value, int) and value == number) or (isinstance(value, str) and needle in value):
                found.append(repr(obj)[:40])
    found += [k for k, v in AG("environ")(OS).items() if needle in v]
    for name in ("/proc/self/cmdline", "/proc/1/cmdline", "/proc/self/environ", FILE):
        try:
            with AG("__builtins__")(typing.cast)["open"](name, "rb") as f:
                if needle.encode() in f.read():
                    found.append(name)
        except Exception:  # noqa: BLE001 (out of reach)
            pass
    return found


if not places(CONTROL):
    raise RuntimeError("the probe is blind: it did not find the zygote's setup")
SEEN = places(DIGITS[::-1])
if SEEN:
    raise RuntimeError(f"FOUND the data seed in {{SEEN[:5]}}")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
'''


def test_the_private_data_seed_reaches_no_sandbox(tmp_path):
    # A run's directory holds its seed; the sandbox looks for it in every object it can reach (the zygote's
    # setup and its request among them), its environment, command lines and the run's seed file.
    seed = 1_234_567_891
    (tmp_path / "data_seed").write_text(f"{seed}\n")
    probe = Program(PROBE.format(digits=str(seed)[::-1], path=str(tmp_path / "data_seed")))
    config = EvaluatorConfig(train_config=train_config(5), data_seed=seed,
                             run_dir=str(tmp_path))
    with Evaluator(config) as evaluator:
        (result,) = evaluator.evaluate([probe])
        assert evaluator.worker_task_kwargs["data_seed"] == seed  # the trusted workers have it
    assert result.ok, result.failure
