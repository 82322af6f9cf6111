"""Defaults: MNIST-1D, the MNIST-1D paper's training recipe, sandbox limits, fitness threshold. The one place
they are written: the library reads them from here (evojax_nas/config.py's `defaults`)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.task = "mnist1d"
    config.task_kwargs = ml_collections.ConfigDict({"seed": 42, "num_samples": 5000, "val_size": 500})
    # "private": the evaluation data comes from a seed the run draws and keeps in its directory, which no
    # sandbox sees; "published": the task's published data (MNIST-1D's seed 42 above), which a candidate can
    # rebuild from the public recipe and memorise: for comparisons with the papers, marked so in the report
    config.data = "private"
    # the MNIST-1D paper's training recipe (Greydanus 2020): Adam, lr 1e-2, batch 100, 8000 steps
    config.train = ml_collections.ConfigDict({
        "optimizer": "adam", "learning_rate": 1e-2, "weight_decay": 0.0,
        "batch_size": 100, "num_steps": 8000, "num_seeds": 1, "seed": 0,
        # how the steps run: "auto" picks by the program's ops and pins the choice (train/strategy.py)
        "strategy": "auto", "scan_chunk": 100, "eval_batch_size": 1000,
        "pack": 0,  # at most this many candidates per compiled program (0: the backend's rule), fewer where memory says
        "max_train_flops": 0.0,  # a candidate whose training on a seed would take more FLOPs is refused (0: no cap)
        "devices": 0,  # how many of the devices the train process sees train (0: all), laid out as a mesh
    })
    config.eval = ml_collections.ConfigDict({
        "num_workers": 1,
        "timeout_s": 900.0,  # training one program (all its seeds)
        # compiling one pack's programs (init and training, or evaluation): 0.3-1.3 s each for the seeds and
        # logged children on the 2-core CPU; a program that would take minutes fails fast, named
        "compile_timeout_s": 120.0,
        "trace_timeout_s": 60.0,  # loading and exporting one program in its sandbox
        # ...and the CPU time (all threads) it may take: the seeds need 0.5-2.2 s for 2 seed counts (measured on
        # the 2-core CPU: the GRU 1.4, cnn_bn_dropout 2.2, CLRS triplets 0.6-1.4); more buys trace-time training
        "trace_cpu_s": 20.0,
        "memory_gb": 6.0,  # a train worker's address space
        "program_memory_gb": 3.0,  # what one compiled training program may need (XLA memory analysis)
        "trace_memory_gb": 4.0,  # a trace sandbox's address space
        "startup_timeout_s": 300.0,  # a train worker's start (imports, data, the first compile on a loaded machine)
        # jax's persistent compilation cache, written by the train workers only: None for the user cache's
        # "compile" folder, "" for none (a worker subverted through XLA could write entries other workers load)
        "compile_cache": None,
        "isolation": "strict",  # "degraded": run with the sandbox layers this machine allows, named once
        # where programs train: "local" (worker processes here) or "ray" (an actor per worker on a Ray cluster,
        # the `ray` extra; the search, the LM and the sandboxes stay here): "" starts a cluster in this process,
        # "auto" joins the one `ray start` began on this machine, "ray://head:10001" a remote one
        "backend": "local",
        "ray_address": "",
        "ray_num_gpus": 0.0,  # per actor: 1.0 pins each to a device of its node
        "ray_resources": {},  # per actor, Ray's custom resources: {"TPU": 4} for one actor per TPU host
    })
    # the LM that writes children: the embedded Gemma-3-270M in the Flax decoder (evojax_nas/lm/backends.py)
    config.lm = ml_collections.ConfigDict({
        "kind": "local", "checkpoint": "embedded:gemma3-270m", "n_virtual_tokens": 16, "learning_rate": 0.1,
        "top_p": 0.95, "top_k": 64, "code_vocab": True, "base_url": "", "model": "", "chat": False,
        "memory_gb": 0.0})  # the LM's memory budget; 0: 80 % of what the machine has available at start
    config.min_val_accuracy = 0.5  # EvoPrompting's error threshold of 0.5
    return config
