"""The `evonas` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from evojax_nas.config import DEFAULT_CONFIG, load_config


def _table(rows: Sequence[dict]) -> str:
    head = f"{'program':28} {'val acc':>8} {'test acc':>8} {'params':>8} {'FLOPs':>10} {'fitness':>10}  status"
    lines = [head, "-" * len(head)]
    for row in rows:
        m = row.get("metrics") or {}
        fit = row["fitness"]
        status = "ok" if row["eligible"] else row["reason"]
        lines.append(
            f"{row['name'][:28]:28} {m.get('val_accuracy_mean', float('nan')):8.3f} "
            f"{m.get('test_accuracy_mean', float('nan')):8.3f} {m.get('params', 0):8d} "
            f"{m.get('flops', float('nan')):10.3g} {fit if fit is not None else float('nan'):10.1f}  "
            f"{status[:60]}")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    """Train program files in the sandbox; print their metrics as JSON, then a table on stderr."""
    from evojax_nas.evaluate import Evaluator, EvaluatorConfig
    from evojax_nas.programs import Program
    from evojax_nas.search import score

    config = load_config(args.config)
    if args.steps is not None:
        config.train.num_steps = args.steps
    if args.seeds is not None:
        config.train.num_seeds = args.seeds
    if args.strategy is not None:
        config.train.strategy = args.strategy
    programs = [Program.from_file(path) for path in args.paths]
    if args.task is not None:
        config.task = args.task
    names = {program.id: Path(path).name for path, program in zip(args.paths, programs, strict=True)}

    def finished(result) -> None:  # each result as it comes: a long batch shows its progress
        m = result.metrics or {}
        what = f"val {m['val_accuracy_mean']:.3f}, {m['params']} params" if result.ok else (
            f"{result.failure.kind}: {result.failure.message[:100]}")
        print(f"{names.get(result.program_id, result.program_id)}: {what} ({result.seconds:.1f} s)",
              file=sys.stderr, flush=True)

    with Evaluator(EvaluatorConfig.from_config(config)) as evaluator:
        results = evaluator.evaluate(programs, on_result=finished)
    rows = []
    for path, program, result in zip(args.paths, programs, results, strict=True):
        s = score(result, config.min_val_accuracy)
        rows.append({"name": Path(path).name, "id": program.id, **result.to_dict(),
                     "fitness": s.fitness, "eligible": s.eligible, "reason": s.reason})
    print(json.dumps(rows if len(rows) > 1 else rows[0], indent=1))
    print(_table(rows), file=sys.stderr)
    return 0 if all(r["failure"] is None for r in rows) else 1


def cmd_serve_lm(args: argparse.Namespace) -> int:
    """Serve the local LM over an OpenAI-compatible API until interrupted."""
    import time

    from evojax_nas.lm.backends import LocalLM
    from evojax_nas.lm.server import serve

    server = serve(LocalLM(args.checkpoint), args.host, args.port, args.model_name)
    print(f"serving {args.checkpoint or 'the embedded LM'} at http://{args.host}:{server.server_port}/v1",
          file=sys.stderr)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Start an EvoPrompting search in --workdir, or resume the one there."""
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
    ev.add_argument("paths", nargs="+", help="program files (.py) defining the task's model class")
    ev.add_argument("--task", help="override config.task")
    ev.add_argument("--config", default=str(DEFAULT_CONFIG), help="config file with get_config()")
    ev.add_argument("--steps", type=int, help="override config.train.num_steps")
    ev.add_argument("--seeds", type=int, help="override config.train.num_seeds (trained vmapped)")
    ev.add_argument("--strategy", help="auto, python-vmap, python-serial, scan-vmap or scan-serial")
    ev.set_defaults(func=cmd_eval)
    lm = sub.add_parser("serve-lm", help="serve the local LM over an OpenAI-compatible HTTP API")
    lm.add_argument("--checkpoint", help="embedded:gemma3-270m (default), a .gguf file or an HF directory")
    lm.add_argument("--host", default="127.0.0.1")
    lm.add_argument("--port", type=int, default=8000)
    lm.add_argument("--model-name", default="evonas")
    lm.set_defaults(func=cmd_serve_lm)
    se = sub.add_parser("search", help="run (or resume) an EvoPrompting search")
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
