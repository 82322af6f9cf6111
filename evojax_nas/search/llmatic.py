"""LLMatic (Nasir et al. 2023): quality-diversity search with two CVT-MAP-Elites archives.

The network archive keeps the most accurate network (validation accuracy, never test) of each cell of
(width-to-depth ratio, FLOPs), both measured by the trusted train stage and normalised by configured bounds.
The prompt archive keeps prompt individuals (one of 13 mutation instructions, a temperature) in cells of
(prompt, temperature); each has a curiosity that accumulates +1.0 when its child entered the network
archive, -0.5 when it did not, -1.0 when the child was untrainable, and its fitness is its prompt's
collective score: how many of the prompt's children beat the previous generation's best.

Generation 0 trains the initial network (the paper's one-conv one-dense net). Then, until the network
archive holds `num_init_nets` networks, each generation mutates the initial network with random prompts
(warm-up). After that a generation is all mutation (probability 0.7) or all crossover (0.3), as Algorithm 1
decides once per generation:
- mutation: a random archived network each; half the batch takes the most curious prompt individuals, half
  random prompts at the initial temperature; every other child samples at its temperature +U(-0.1, 0.1).
  The child's individual (its prompt, the temperature that made it, moved +0.05 when the child reached the
  previous best and -0.05 otherwise, within (0, 1]) is offered to the prompt archive.
- crossover: a random archived network and its nearest archive neighbours, the crossover prompt at 0.7;
  nothing is offered to the prompt archive.

Ablations (section 4.2, `search.ablation`): network_archive_only (a fixed population of random prompt
individuals with one score, +1/-0.5/-1, and temperature +-0.1), prompt_archive_only (a population of the
most accurate networks; crossover takes the most cosine-similar by descriptors), mutation_only,
crossover_only, random_generation (the initial network and one fixed prompt, no evolution).

Places where the paper left a choice (each documented where it is made): the previous generation's best is
the best archived accuracy when the generation starts; a child with no class, refused by the static check,
or failing in training is untrainable, a duplicate is "not added"; a crossover with a one-network archive
falls back to a mutation by a random prompt; individuals not held by the archive are dropped."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ml_collections import ConfigDict

from evojax_nas.evaluate.base import CandidateEvaluator
from evojax_nas.evaluate.result import Result
from evojax_nas.lm.base import LanguageModel
from evojax_nas.programs.program import Program
from evojax_nas.search.archive import Archive, Axis
from evojax_nas.search.base import Journal
from evojax_nas.search.fitness import screen_fitness
from evojax_nas.search.llmatic_prompts import CROSSOVER, MUTATIONS, RANDOM_GENERATION, build_instruction_prompt
from evojax_nas.search.method import check_confirm_seeds, confirmation_seeds
from evojax_nas.search.pipeline import Child, Pipeline
from evojax_nas.tasks.base import MetricsSchema, Task

ABLATIONS = ("none", "network_archive_only", "prompt_archive_only", "mutation_only", "crossover_only",
             "random_generation")
CROSSOVER_PROMPT, RANDOM_PROMPT = -1, -2  # prompt ids of the two fixed instructions
TEMPERATURE_FLOOR = 0.05  # temperatures stay in (0, 1]: 0 would be greedy decoding
DESCRIPTORS = ("width_to_depth", "flops", "params", "width", "depth")


def descriptor(metrics: dict[str, Any], name: str) -> float:
    """A network's descriptor from its trained metrics (width and depth from the parameter tree, FLOPs
    from XLA's cost analysis, all measured by the train stage)."""
    if name == "width_to_depth":
        return float(metrics["width"]) / max(int(metrics["depth"]), 1)
    return float(metrics[name])


def check_config(config: ConfigDict) -> None:
    """Raise ValueError, naming the field, for an LLMatic config that cannot run."""
    for name in ("num_rounds", "batch", "num_init_nets", "cells", "prompt_cells", "max_new_tokens",
                 "crossover_parents", "population_size", "prompt_population_size"):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "num_rounds" else 1):
            raise ValueError(f"search.{name} must be a positive integer, not {value!r}")
    check_confirm_seeds(config)
    if config.ablation not in ABLATIONS:
        raise ValueError(f"search.ablation must be one of {ABLATIONS}, not {config.ablation!r}")
    for name in ("mutation_probability", "initial_temperature", "crossover_temperature", "temperature_noise",
                 "temperature_step"):
        if not isinstance(config[name], int | float) or not 0 <= config[name] <= 1:
            raise ValueError(f"search.{name} must be a number in [0, 1], not {config[name]!r}")
    if len(config.network_descriptors) != 2:
        raise ValueError("search.network_descriptors must name 2 axes")
    for axis in config.network_descriptors:
        if axis["name"] not in DESCRIPTORS:
            raise ValueError(f"search.network_descriptors: {axis['name']!r} is not one of {DESCRIPTORS}")
        Axis.from_config(axis)


def clamp_temperature(t: float) -> float:
    return float(min(max(t, TEMPERATURE_FLOOR), 1.0))


@dataclasses.dataclass
class Request:
    """One child to sample: its operator, parents (program ids), prompt, sampling temperature, and the
    prompt individual it was drawn from (None for a random prompt or a crossover)."""

    kind: str  # "mutation" | "crossover" | "random"
    parents: list[str]
    prompt: int  # an index of MUTATIONS, CROSSOVER_PROMPT or RANDOM_PROMPT
    temperature: float
    individual: str | None = None
    warm_up: bool = False


@dataclasses.dataclass
class Outcome:
    """What became of a request: the trained child's id, validation score (the task's, `MetricsSchema`) and
    descriptors; untrainable when the score is None; a duplicate of a program seen when `duplicate`."""

    request: Request
    program_id: str | None = None
    score: float | None = None
    descriptors: tuple[float, ...] | None = None
    duplicate: bool = False


@dataclasses.dataclass
class LlmaticState:
    """Everything the search needs to go on, as plain data (checkpointed after every generation)."""

    round: int = -1
    seen: list[str] = dataclasses.field(default_factory=list)
    fingerprints: list[str] = dataclasses.field(default_factory=list)
    rng: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    networks: dict[str, Any] | None = None  # the network archive (Archive.to_dict); None without it
    prompts: dict[str, Any] | None = None  # the prompt archive; None without it
    programs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # networks held, by id
    individuals: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # prompt individuals held
    prompt_scores: list[float] = dataclasses.field(default_factory=lambda: [0.0] * len(MUTATIONS))
    population: list[str] = dataclasses.field(default_factory=list)  # networks, without a network archive
    prompt_population: list[str] = dataclasses.field(default_factory=list)  # individuals, without a prompt archive
    best: float = -math.inf  # the best validation accuracy held when the generation began
    best_fitness: float | None = None  # EvoPrompting's fitness of the best eligible network, for comparison
    counter: int = 0  # names the next prompt individual

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["best"] = None if math.isinf(self.best) else self.best
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LlmaticState:
        data = dict(data)
        data["best"] = -math.inf if data.get("best") is None else float(data["best"])
        return cls(**data)

    def copy(self) -> LlmaticState:
        return LlmaticState.from_dict(self.to_dict())


class Archives:
    """The state's archives (or populations) as objects for one generation."""

    def __init__(self, state: LlmaticState):
        self.networks = Archive.from_dict(state.networks) if state.networks else None
        self.prompts = Archive.from_dict(state.prompts) if state.prompts else None

    def network_ids(self, state: LlmaticState) -> list[str]:
        return self.networks.ids() if self.networks else list(state.population)

    def store(self, state: LlmaticState) -> None:
        state.networks = self.networks.to_dict() if self.networks else None
        state.prompts = self.prompts.to_dict() if self.prompts else None
        held = set(self.network_ids(state))
        state.programs = {k: v for k, v in state.programs.items() if k in held}
        kept = set(self.prompts.ids()) if self.prompts else set(state.prompt_population)
        state.individuals = {k: v for k, v in state.individuals.items() if k in kept}

    def best(self, state: LlmaticState, schema: MetricsSchema) -> float:
        if self.networks:
            return max((e["objective"] for e in self.networks.elites()), default=-math.inf)
        return max((state.programs[i]["metrics"][schema.score_mean] for i in state.population), default=-math.inf)


def curious_individuals(state: LlmaticState, archives: Archives) -> list[str]:
    """Prompt individuals, most curious first (ties by id): the archive's, or the ablation's population."""
    ids = archives.prompts.ids() if archives.prompts else list(state.prompt_population)
    return sorted(ids, key=lambda i: (-state.individuals[i]["curiosity"], i))


def nearest_networks(state: LlmaticState, archives: Archives, config: ConfigDict, first: str, k: int) -> list[str]:
    """The k networks nearest `first`: by Euclidean distance in the network archive, or (prompt archive only)
    the most cosine-similar normalised descriptors in the population."""
    if archives.networks:
        return archives.networks.nearest(first, k)
    axes = [Axis.from_config(a) for a in config.network_descriptors]

    def vector(i: str) -> np.ndarray:
        m = state.programs[i]["metrics"]
        return np.array([a.normalise(descriptor(m, a.name)) for a in axes])

    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        return float(a @ b) / norm if norm else 0.0

    others = [i for i in state.population if i != first]
    return sorted(others, key=lambda i: (-cosine(vector(first), vector(i)), i))[:k]


def plan_generation(state: LlmaticState, archives: Archives, config: ConfigDict, initial: str,
                    rng: np.random.Generator) -> tuple[str, list[Request]]:
    """The generation's operator ("warm-up", "random", "mutation" or "crossover") and its requests."""
    n, t0 = config.batch, float(config.initial_temperature)

    def noisy(i: int, t: float) -> float:  # every other child samples at the temperature moved by the noise
        return clamp_temperature(t + rng.uniform(-config.temperature_noise, config.temperature_noise)) if i % 2 else t

    if config.ablation == "random_generation":
        return "random", [Request("random", [initial], RANDOM_PROMPT, t0) for _ in range(n)]
    networks = archives.network_ids(state)
    if len(networks) < config.num_init_nets:
        return "warm-up", [Request("mutation", [initial], int(rng.integers(len(MUTATIONS))), noisy(i, t0),
                                   warm_up=True) for i in range(n)]
    draw = rng.random()  # drawn always, so the ablations do not shift the RNG stream
    crossover = {"mutation_only": False, "crossover_only": True}.get(config.ablation,
                                                                    draw >= config.mutation_probability)
    requests = []
    if crossover:
        for i in range(n):
            first = networks[int(rng.integers(len(networks)))]
            others = nearest_networks(state, archives, config, first, config.crossover_parents - 1)
            if others:
                requests.append(Request("crossover", [first, *others], CROSSOVER_PROMPT,
                                        float(config.crossover_temperature)))
            else:  # one network: nothing to cross it with
                requests.append(Request("mutation", [first], int(rng.integers(len(MUTATIONS))), noisy(i, t0)))
        return "crossover", requests
    curious = curious_individuals(state, archives)
    for i in range(n):
        network = networks[int(rng.integers(len(networks)))]
        if i < n // 2 and curious:  # half from the most curious individuals
            pick: str | None = curious[i % len(curious)]
        elif config.ablation == "network_archive_only":  # the other half: random individuals of the population
            pick = state.prompt_population[int(rng.integers(len(state.prompt_population)))]
        else:  # the other half: random prompts at the initial temperature
            pick = None
        if pick is None:
            requests.append(Request("mutation", [network], int(rng.integers(len(MUTATIONS))), noisy(i, t0)))
        else:
            ind = state.individuals[pick]
            requests.append(Request("mutation", [network], int(ind["prompt"]), noisy(i, float(ind["temperature"])),
                                    pick))
    return "mutation", requests


def curiosity_delta(outcome: Outcome, added: bool) -> float:
    """+1.0 when the child entered the network archive, -0.5 when it did not, -1.0 when untrainable."""
    if outcome.score is None and not outcome.duplicate:
        return -1.0
    return 1.0 if added else -0.5


def moved_temperature(temperature: float, reached_best: bool, step: float) -> float:
    """+step when the child's fitness reached the previous generation's best, -step otherwise, in (0, 1]."""
    return clamp_temperature(temperature + (step if reached_best else -step))


def update_archives(state: LlmaticState, archives: Archives, config: ConfigDict, outcomes: Sequence[Outcome],
                    programs: dict[str, Program], schema: MetricsSchema) -> dict[str, Any]:
    """Offer each trained child to the network archive (or population) and each mutation's individual to
    the prompt archive, applying the curiosity, fitness and temperature rules. Returns counts."""
    previous_best = state.best
    counts = {"added_networks": 0, "added_prompts": 0}
    for outcome in outcomes:
        added = False
        if outcome.score is not None:
            added = offer_network(state, archives, config, outcome, programs[outcome.program_id], schema)
            counts["added_networks"] += added
        req = outcome.request
        if req.kind != "mutation" or req.prompt < 0:
            continue  # a crossover or the random-generation prompt offers no individual
        delta = curiosity_delta(outcome, added)
        reached = outcome.score is not None and outcome.score >= previous_best
        beat = outcome.score is not None and outcome.score > previous_best
        if config.ablation == "network_archive_only":
            ind = state.individuals[req.individual] if req.individual else None
            if ind is not None:  # one score per individual, and its temperature +-0.1, in place
                ind["curiosity"] += delta
                ind["temperature"] = moved_temperature(ind["temperature"], added, 0.1)
            continue
        parent = state.individuals.get(req.individual) if req.individual else None
        if parent is not None:
            parent["curiosity"] += delta
        state.prompt_scores[req.prompt] += 1.0 if beat else 0.0
        individual = {"prompt": req.prompt, "temperature": moved_temperature(req.temperature, reached,
                                                                             config.temperature_step),
                      "curiosity": (parent["curiosity"] if parent is not None else delta)}
        name = add_individual(state, individual)
        if archives.prompts is not None:
            counts["added_prompts"] += archives.prompts.add(name, state.prompt_scores[req.prompt],
                                                            [req.prompt, individual["temperature"]])
    return counts


def add_individual(state: LlmaticState, individual: dict[str, Any]) -> str:
    """Hold a new prompt individual under the next name; return the name."""
    name = f"i{state.counter}"
    state.counter += 1
    state.individuals[name] = individual
    return name


def offer_network(state: LlmaticState, archives: Archives, config: ConfigDict, outcome: Outcome, program: Program,
                  schema: MetricsSchema) -> bool:
    """Whether the trained child entered the network archive (or, without one, the population)."""
    program_id = outcome.program_id
    if archives.networks is not None:
        added = archives.networks.add(program_id, outcome.score, list(outcome.descriptors))
    else:
        ranked = sorted(state.population + [program_id], key=lambda i: (
            -(outcome.score if i == program_id else state.programs[i]["metrics"][schema.score_mean]), i))
        state.population = ranked[: config.population_size]
        added = program_id in state.population
    if added:
        state.programs[program_id] = program.to_dict()
    return added


class Llmatic:
    """One object per run: call run_round(state) until state.round == config.num_rounds (a round is a
    generation)."""

    REPORT_KEYS = ("sampled", "valid", "trained", "mutation_trainable", "crossover_trainable", "added_networks",
                   "added_prompts", "network_cells", "network_qd_score", "prompt_cells", "prompt_qd_score",
                   "best_score", "best_fitness", "seconds")

    @staticmethod
    def report_ranking(records: list[dict[str, Any]], state: Callable[[], dict[str, Any] | None],
                       schema: MetricsSchema) -> list[dict[str, Any]]:
        """The report's table: the networks the run holds (its network archive, or its population), by
        validation score."""
        held_state = state() or {}
        held = {e["id"] for e in (held_state.get("networks") or {}).get("elites", [])}
        held |= set(held_state.get("population", []))
        return sorted((c for c in records if c["id"] in held and c["result"].get("metrics")),
                      key=lambda c: -c["result"]["metrics"][schema.score_mean])

    @staticmethod
    def report_figures(run_name: str, state: Callable[[], dict[str, Any] | None], rows: list[dict[str, Any]],
                       out: Path) -> list[Path]:
        """Heat-maps of the two archives; QD-score, coverage and best accuracy per generation."""
        from evojax_nas.search.llmatic_figures import figures

        return figures(run_name, state(), rows, out)

    def __init__(self, config: ConfigDict, lm: LanguageModel | None, evaluator: CandidateEvaluator,
                 seeds: Sequence[Program], journal: Journal, min_val_accuracy: float, task: Task,
                 progress: Callable[[str, dict[str, Any]], None] | None = None, screen_seeds: int = 1,
                 train_seed: int = 0):
        """seeds: the first is the initial network; a second, when given, is a worked example shown before
        each prompt (the initial network improved as its docstring says: a 270M LM shown one network and
        an instruction writes little that trains). screen_seeds, train_seed: the training seeds (the train
        config's num_seeds and seed); LLMatic trains each child once, and with `confirm_seeds` above
        screen_seeds a child that would be the new best is trained on the next seeds up to confirm_seeds
        before it counts (as EvoPrompting confirms its population's entrants)."""
        check_config(config)
        if not seeds:
            raise ValueError("LLMatic needs an initial network: give one seed program")
        self.config, self.task, self.initial = config, task, seeds[0]
        self.schema = task.candidate.metrics
        self.example = (seeds[0], seeds[1]) if len(seeds) > 1 else None
        self.pipeline = Pipeline(lm, evaluator, journal, task, min_val_accuracy, config.max_new_tokens, progress)
        self.axes = [Axis.from_config(a) for a in config.network_descriptors]
        self.confirm = confirmation_seeds(config, screen_seeds, train_seed)

    def initial_state(self) -> LlmaticState:
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        state = LlmaticState()
        if cfg.ablation != "prompt_archive_only":
            state.networks = Archive(self.axes, cfg.cells, cfg.seed).to_dict()
        if cfg.ablation == "network_archive_only":  # random individuals: a prompt, a temperature in (0, 1]
            for _ in range(cfg.prompt_population_size):
                state.prompt_population.append(add_individual(state, {
                    "prompt": int(rng.integers(len(MUTATIONS))),
                    "temperature": clamp_temperature(float(rng.uniform(0, 1))), "curiosity": 0.0}))
        elif cfg.ablation != "random_generation":
            axes = [Axis("prompt", 0, len(MUTATIONS) - 1), Axis("temperature", 0, 1)]
            state.prompts = Archive(axes, cfg.prompt_cells, cfg.seed + 1).to_dict()
        state.rng = rng.bit_generator.state
        return state

    @staticmethod
    def lm_batches(config: ConfigDict, parent_tokens: int) -> dict[str, Any]:
        """The largest LM batches a generation asks for (for the memory plan): one row per child, prompts
        of up to crossover_parents parents after the worked example's two networks; no prompt-tuning."""
        return {"prompts": config.batch, "n": 1, "prompt_tokens": 100 + (config.crossover_parents + 2) * parent_tokens,
                "tuning": False}

    def state_from_dict(self, data: dict[str, Any]) -> LlmaticState:
        return LlmaticState.from_dict(data)

    def best(self, state: LlmaticState) -> list[Program]:
        """The held networks, best validation score first."""
        return sorted((Program.from_dict(p) for p in state.programs.values()),
                      key=lambda p: (-p.metrics[self.schema.score_mean], p.id))

    def run_round(self, state: LlmaticState) -> LlmaticState:
        """Run the next generation and return the new state (the input is not modified)."""
        start = time.perf_counter()
        rng = np.random.default_rng()
        rng.bit_generator.state = state.rng
        new = state.copy()
        new.round += 1
        archives = Archives(new)
        stats: dict[str, Any] = {"sampled": 0, "extracted": 0, "duplicates": 0, "valid": 0}
        if new.round == 0:
            self.pipeline.mark_seeds(new, [self.initial, *(self.example or ())[1:]])  # a copied example is no child
            operator, pairs = "initial", [(Request("initial", [], RANDOM_PROMPT, 0.0),
                                           Child(self.initial, [], self.initial.source), "new")]
            stats["sampled"] = 1
        else:
            operator, requests = plan_generation(new, archives, self.config, self.initial.id, rng)
            pairs = self._sample(new, requests, int(rng.integers(2**31)), stats)
        outcomes, programs = self._evaluate(new, pairs)
        if new.round == 0 and outcomes[0].score is None:
            failure = self.pipeline.journal.known_result(self.initial.id).failure
            raise RuntimeError(f"the initial network did not train: {failure.kind}: {failure.message}")
        counts = update_archives(new, archives, self.config, outcomes, programs, self.schema)
        new.best = max(new.best, archives.best(new, self.schema))
        archives.store(new)
        stats.update(self._stats(new, archives, operator, outcomes, counts))
        stats.update(seconds=round(time.perf_counter() - start, 2))
        new.history.append(stats)
        new.rng = rng.bit_generator.state
        return new

    def _sample(self, state: LlmaticState, requests: list[Request], lm_seed: int, stats: dict[str, Any]
                ) -> list[tuple[Request, Child | None, str]]:
        """Each request with its child and what became of it before training: "new" (to train), "duplicate"
        (of a program seen: not added) or "untrainable" (no class extracted, or refused by the check)."""
        prompts, parents_of = [], []
        for req in requests:
            parents = [self._program(state, i) for i in req.parents]
            parents_of.append(parents)
            instruction = {CROSSOVER_PROMPT: CROSSOVER, RANDOM_PROMPT: RANDOM_GENERATION}.get(req.prompt)
            prompts.append(build_instruction_prompt(parents, instruction or MUTATIONS[req.prompt], self.task.candidate,
                                                    self.example))
        completions = self.pipeline.generate(state, [p for p, _ in prompts], [r.temperature for r in requests], 1,
                                             lm_seed, {"attempt": 0})
        prints, pairs = set(state.fingerprints), []
        for i, (req, parents, (_, header), texts) in enumerate(zip(requests, parents_of, prompts, completions,
                                                                   strict=True)):
            stats["sampled"] += 1
            origin = {"round": state.round, "prompt": req.prompt, "temperature": req.temperature, "request": i,
                      "individual": req.individual, "warm_up": req.warm_up}
            text = texts[0]
            if "def __call__" in header:  # the header began the call: a second `@nn.compact` is a repeat
                text = text.split("\n    @nn.compact", 1)[0]
            child = self.pipeline.child(text, header, parents, origin, kind=req.kind)
            if child is None:
                pairs.append((req, None, "untrainable"))
                continue
            stats["extracted"] += 1
            why = self.pipeline.admit(state, child, prints)
            status = {None: "new", "rejected": "untrainable"}.get(why, "duplicate")
            stats["duplicates"] += status == "duplicate"
            stats["valid"] += status == "new"
            pairs.append((req, child, status))
        return pairs

    def _program(self, state: LlmaticState, program_id: str) -> Program:
        if program_id == self.initial.id:
            return self.initial
        return Program.from_dict(state.programs[program_id])

    def _evaluate(self, state: LlmaticState, pairs: list[tuple[Request, Child | None, str]]
                  ) -> tuple[list[Outcome], dict[str, Program]]:
        """Train the new children (once each, on the screening seeds; a would-be best on more, see __init__)
        and say what became of each request."""
        trainable = [c.program for _, c, status in pairs if status == "new"]
        results = self.pipeline.train(state, trainable) if trainable else {}
        best = -math.inf if state.best_fitness is None else state.best_fitness
        confirm = [p for p in trainable if self.pipeline.score(results[p.id]).eligible
                   and screen_fitness(results[p.id].metrics, self.schema) > best]
        if self.confirm and confirm:
            results.update(self.pipeline.train(state, confirm, "confirm", self.confirm))
        outcomes, programs = [], {}
        for req, child, status in pairs:
            if status == "new":
                outcomes.append(self._outcome(state, req, child.program, results[child.program.id], programs))
            else:
                outcomes.append(Outcome(req, duplicate=status == "duplicate"))
        return outcomes, programs

    def _outcome(self, state: LlmaticState, req: Request, program: Program, result: Result,
                 programs: dict[str, Program]) -> Outcome:
        if not result.ok:
            return Outcome(req, program.id)
        program.metrics = result.metrics
        programs[program.id] = program
        s = self.pipeline.score(result)
        if s.eligible and (state.best_fitness is None or s.fitness > state.best_fitness):
            state.best_fitness = s.fitness
        m = result.metrics
        return Outcome(req, program.id, float(m[self.schema.score_mean]),
                       tuple(descriptor(m, a.name) for a in self.axes))

    def _stats(self, state: LlmaticState, archives: Archives, operator: str, outcomes: list[Outcome],
               counts: dict[str, int]) -> dict[str, Any]:
        out: dict[str, Any] = {"round": state.round, "operator": operator, **counts}
        for kind in ("mutation", "crossover", "random"):
            mine = [o for o in outcomes if o.request.kind == kind]
            if mine:
                trained = sum(o.score is not None for o in mine)
                out.update({f"{kind}_children": len(mine), f"{kind}_trained": trained,
                            f"{kind}_trainable": trained / len(mine)})
        out["trained"] = sum(o.score is not None for o in outcomes)
        out["trained_yield"] = out["trained"] / max(len(outcomes), 1)
        for name, archive in (("network", archives.networks), ("prompt", archives.prompts)):
            if archive is not None:
                out.update({f"{name}_{k}": v for k, v in archive.stats().items()})
        out.update(best_score=None if math.isinf(state.best) else state.best,
                   best_fitness=state.best_fitness, models_evaluated=len(state.seen))
        return out

