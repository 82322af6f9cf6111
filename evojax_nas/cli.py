"""The `evonas` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from evojax_nas.config import DEFAULT_CONFIG, load_config

if TYPE_CHECKING:
    from evojax_nas.tasks.base import MetricsSchema


def _table(rows: Sequence[dict], schema: MetricsSchema) -> str:
    head = f"{'program':28} {'val':>8} {'test':>8} {'params':>8} {'FLOPs':>10} {'fitness':>10}  status"
    lines = [head, "-" * len(head)]
    for row in rows:
        m = row.get("metrics") or {}
        fit = row["fitness"]
        status = "ok" if row["eligible"] else row["reason"]
        lines.append(
            f"{row['name'][:28]:28} {m.get(schema.score_mean, float('nan')):8.3f} "
            f"{m.get(schema.test_mean, float('nan')):8.3f} {m.get(schema.size, 0):8d} "
            f"{m.get(schema.cost, float('nan')):10.3g} {fit if fit is not None else float('nan'):10.1f}  "
            f"{status[:60]}")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    """Train program files in the sandbox; print their metrics as JSON, then a table on stderr."""
    from evojax_nas.evaluate import Evaluator, EvaluatorConfig
    from evojax_nas.programs import Program
    from evojax_nas.search import score
    from evojax_nas.tasks import get_task

    config = load_config(args.config)
    if args.task is not None and args.task != config.task:  # another task: its own training recipe
        import ml_collections

        config.task, config.task_kwargs = args.task, ml_collections.ConfigDict()
        config.train = ml_collections.ConfigDict(get_task(args.task).train_defaults())
    if args.steps is not None:
        config.train.num_steps = args.steps
    if args.seeds is not None:
        config.train.num_seeds = args.seeds
    if args.strategy is not None:
        config.train.strategy = args.strategy
    if args.data is not None:
        config.data = args.data
    data = config.get("data", "published")
    print(f"evonas: evaluation data: {data}" + (" (a seed drawn for this command; no sandbox sees it)"
          if data == "private" else " (memorisable)"), file=sys.stderr)
    schema = get_task(config.task, **config.task_kwargs).candidate.metrics
    programs = [Program.from_file(path) for path in args.paths]
    names = {program.id: Path(path).name for path, program in zip(args.paths, programs, strict=True)}

    def finished(result) -> None:  # each result as it comes: a long batch shows its progress
        m = result.metrics or {}
        what = f"val {m[schema.score_mean]:.3f}, {m[schema.size]} params" if result.ok else (
            f"{result.failure.kind}: {result.failure.message[:100]}")
        print(f"{names.get(result.program_id, result.program_id)}: {what} ({result.seconds:.1f} s)",
              file=sys.stderr, flush=True)

    with Evaluator(EvaluatorConfig.from_config(config)) as evaluator:
        results = evaluator.evaluate(programs, on_result=finished)
    rows = []
    for path, program, result in zip(args.paths, programs, results, strict=True):
        s = score(result, config.min_val_accuracy, schema)
        rows.append({"name": Path(path).name, "id": program.id, **result.to_dict(),
                     "fitness": s.fitness, "eligible": s.eligible, "reason": s.reason})
    print(json.dumps(rows if len(rows) > 1 else rows[0], indent=1))
    print(_table(rows, schema), file=sys.stderr)
    return 0 if all(r["failure"] is None for r in rows) else 1


def cmd_clrs_table(args: argparse.Namespace) -> int:
    """Train triplet functions on CLRS algorithms in the sandbox; write the OOD table (markdown and CSV)."""
    try:
        from clrs_tasks.data import algorithms
        from clrs_tasks.table import run_table
        from clrs_tasks.task import train_defaults
    except ImportError as err:
        raise RuntimeError(f"clrs-table needs the clrs extra (pip install -e '.[clrs]'): {err}") from err
    known = algorithms()
    names = known if args.algorithms == ["all"] else [a for arg in args.algorithms for a in arg.split(",") if a]
    unknown = [a for a in names if a not in known]
    if unknown:
        raise ValueError(f"unknown CLRS algorithms {unknown}; known: {', '.join(known)}")
    train = train_defaults()
    for key, value in (("num_steps", args.steps), ("num_seeds", args.seeds), ("hidden", args.hidden),
                       ("train_lengths", args.train_lengths), ("test_length", args.test_length),
                       ("val_samples", args.val_samples), ("test_samples", args.test_samples),
                       ("eval_every", args.eval_every)):
        if value is not None:
            train[key] = value
    memory = int(args.memory_gb * 2**30)
    md, _ = run_table([Path(p) for p in args.programs], names, train, Path(args.out),
                      {"num_workers": args.workers, "timeout_s": args.timeout, "memory_bytes": memory,
                       "program_memory_bytes": memory // 2})
    print(md.read_text())
    return 0


def cmd_serve_lm(args: argparse.Namespace) -> int:
    """Serve the local LM over an OpenAI-compatible API until interrupted."""
    import time

    from evojax_nas.lm.backends import LocalLM
    from evojax_nas.lm.server import serve

    lm = LocalLM({"checkpoint": args.checkpoint} if args.checkpoint else None)
    server = serve(lm, args.host, args.port, args.model_name)
    print(f"serving {args.checkpoint or 'the embedded LM'} at http://{args.host}:{server.server_port}/v1",
          file=sys.stderr)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Start a search (EvoPrompting or LLMatic, as search.method says) in --workdir, or resume the one there."""
    from evojax_nas.runs.search_run import run_search

    config = load_config(args.config) if args.config else None
    state = run_search(config, args.workdir)
    print(json.dumps({"workdir": args.workdir, "rounds": state.history}, indent=1))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Plots and a markdown summary of one or more run directories."""
    from evojax_nas.runs.report import write_report

    for path in write_report([Path(w) for w in args.workdirs], args.out, args.top):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evonas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="train program files in the sandbox and print their metrics")
    ev.add_argument("paths", nargs="+", help="program files (.py) defining the task's class (Model, or "
                    "TripletMessages for clrs)")
    ev.add_argument("--task", help="another task than the config's, with its default training: mnist1d, "
                    "clrs:ALGORITHM (e.g. clrs:bfs), or module:function")
    ev.add_argument("--config", default=str(DEFAULT_CONFIG), help="config file with get_config()")
    ev.add_argument("--steps", type=int, help="override config.train.num_steps")
    ev.add_argument("--seeds", type=int, help="override config.train.num_seeds (trained vmapped)")
    ev.add_argument("--strategy", help="auto, python-vmap, python-serial, scan-vmap or scan-serial")
    ev.add_argument("--data", choices=("private", "published"), help="override config.data: private (a seed "
                    "drawn now, never shown to a sandbox) or published (the task's published data, memorisable)")
    ev.set_defaults(func=cmd_eval)
    ct = sub.add_parser("clrs-table", help="train triplet functions on CLRS algorithms; OOD table beside the "
                        "published Triplet-GMPNN column")
    ct.add_argument("--programs", nargs="+", required=True, help="TripletMessages program files")
    ct.add_argument("--algorithms", nargs="+", default=["all"], help="all, or names (space or comma separated)")
    ct.add_argument("--steps", type=int, help="training steps (default 2,000)")
    ct.add_argument("--seeds", type=int, help="seeds per program, trained vmapped (default 1)")
    ct.add_argument("--hidden", type=int, help="hidden size (default 128)")
    ct.add_argument("--train-lengths", type=int, nargs="+", help="training sizes (default 4 7 11 13 16)")
    ct.add_argument("--test-length", type=int, help="OOD test size (default 64)")
    ct.add_argument("--val-samples", type=int, help="validation samples (default: the recipe's)")
    ct.add_argument("--test-samples", type=int, help="test samples (default: the recipe's)")
    ct.add_argument("--eval-every", type=int, help="steps between validations (default 50)")
    ct.add_argument("--workers", type=int, default=1, help="train workers (programs trained at once)")
    ct.add_argument("--timeout", type=float, default=7200.0, help="seconds per training")
    ct.add_argument("--memory-gb", type=float, default=16.0, help="a train worker's address space")
    ct.add_argument("--out", required=True, help="folder for table.md, table.csv and results.jsonl (resumable)")
    ct.set_defaults(func=cmd_clrs_table)
    lm = sub.add_parser("serve-lm", help="serve the local LM over an OpenAI-compatible HTTP API")
    lm.add_argument("--checkpoint", help="embedded:gemma3-270m (default), a .gguf file or an HF directory")
    lm.add_argument("--host", default="127.0.0.1")
    lm.add_argument("--port", type=int, default=8000)
    lm.add_argument("--model-name", default="evonas")
    lm.set_defaults(func=cmd_serve_lm)
    se = sub.add_parser("search", help="run (or resume) a search: EvoPrompting or LLMatic (search.method)")
    se.add_argument("--config", help="config file, e.g. configs/mnist1d_evoprompting.py[:small]; "
                    "omit to resume the run in --workdir")
    se.add_argument("--workdir", required=True, help="run directory (created, or resumed)")
    se.set_defaults(func=cmd_search)
    rep = sub.add_parser("report", help="plots and a summary table of run directories")
    rep.add_argument("workdirs", nargs="+", help="run directories (one line or colour each)")
    rep.add_argument("--out", help="output folder (default: the first run's report/)")
    rep.add_argument("--top", type=int, default=20, help="models per run on the Pareto plot")
    rep.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("absl", "jax"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"evonas: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
