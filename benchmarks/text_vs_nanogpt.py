"""Our transformer against nanoGPT (karpathy/nanoGPT, run from its own source) on Tiny Shakespeare, same CPU.

nanoGPT is not a dependency: `setup` places its public source in the git-ignored benchmarks/_work/nanogpt/src
(the commit is recorded) and prepares its shakespeare_char data from the copy noisecraft ships, so nothing
is downloaded; its train.bin / val.bin are checked to hold exactly our train / test tokens. Model size:
nanoGPT's documented CPU configuration (4 layers, 4 heads, 128 dims, block 64, no dropout, no compile),
which our recipe `shakespeare-char` matches at block 64.

The protocol (issue 18: tuning never on the reported split, the peer tuned as we are):

1. `speed`: training steps (forward, backward, clip, AdamW: the same timed region on both sides, on the
   same batches) interleaved for >= 10 rounds at one thread; the ratio per round, its min/median/max. It
   also times nanoGPT at each batch size of its pilots, to set its iterations for a time budget.
2. `pilots`: the SAME six-point design around each side's own defaults (ours: the recipe; nanoGPT: its
   train_shakespeare_char learning rate and warm-up, its README's CPU batch): learning rate x 1/2, 1, 2;
   batch x 2 (at learning rate x 1 and x 2); warm-up x 5. Both sides train on the train split without the
   validation split (our data.hold_out_validation; nanoGPT reads the same tokens from its own files) and
   are scored by the same code on the validation split (the last 5% of the training characters), seed 0
   (nanoGPT: its own seed 1337). Pilot i of each side run at once, one thread each. One file per pilot pair.
3. `race`: each side's best pilot setting, trained on the whole train split for the same wall-clock budget,
   both at once (one thread each), scored on the test split (nanoGPT's own validation split) with fresh
   seeds (default 1, 2, 3; nanoGPT: 1337 + seed, its only seed, offset by a launcher that changes nothing
   else). One file per seed. nanoGPT has no time budget: its iterations are the budget times its
   throughput at that batch measured in the pilots (beside ours), as a user would set them. Each run
   records its wall seconds and tokens per wall second from process start to exit, the same region on both
   sides (each program's own start-up and end-of-run work included: our final sample, nanoGPT's last eval).
4. `kv`: sampling time per token with the KV cache on and off (ours only).
5. `report`: mean +- sd over seeds; a loss difference under 5% is a tie unless every seed (>= 3) shows it.

    python text_vs_nanogpt.py setup --source https://github.com/karpathy/nanoGPT   # or a local clone / git dir
    python text_vs_nanogpt.py speed                 # ~2 min, one core, a quiet machine
    python text_vs_nanogpt.py pilots --budget 600   # 6 pairs x ~11 min, both cores: ~70 min
    python text_vs_nanogpt.py race --budget 600     # 3 seeds x ~11 min, both cores: ~35 min
    python text_vs_nanogpt.py kv                    # ~5 min, one core
    python text_vs_nanogpt.py report
    python text_vs_nanogpt.py --quick               # every path at toy size (2 pilots, 2 seeds, 2 s each) in a temp folder

Each phase writes results/text_vs_nanogpt/... (drafts/ with --draft) and resumes by skipping what exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import common
from common import HERE, RESULTS, write_result

WORK = HERE / "_work" / "nanogpt"
SOURCE = WORK / "src"
OUT = RESULTS / "text_vs_nanogpt"
RUNS = HERE / "_work" / "text-race"
SIZE = {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64}  # nanoGPT README's CPU command
OUR_RECIPE = "shakespeare-char"
OUR_OVERRIDES = ["data.block_size=64", "train.sample_every=1000000", "train.tensorboard=false"]  # nanoGPT's context
NANOGPT_BASE = {"lr": 1e-3, "batch": 12, "warmup": 100}  # train_shakespeare_char.py's lr, warm-up; README's CPU batch
GRID = [(1, 1, 1), (0.5, 1, 1), (2, 1, 1), (1, 2, 1), (2, 2, 1), (1, 1, 5)]  # x (lr, batch, warm-up), both sides
PILOT_SEED = 0
HOLDOUT_DATASET = "shakespeare_char_holdout"  # nanoGPT's data folder for pilots: train without validation
LAUNCHER = ("import runpy, sys, torch; offset = int(sys.argv[1]); seed = torch.manual_seed; "
            "torch.manual_seed = lambda s: seed(s + offset); sys.argv = ['train.py', *sys.argv[2:]]; "
            "runpy.run_path('train.py', run_name='__main__')")  # nanoGPT's train.py fixes seed 1337: offset it
QUICK = {"rounds": 10, "steps": 1, "budget": 2.0, "windows": 20, "seeds": [1, 2], "pilots": 2}  # every path, less often
QUICK_MODE = False


def write_record(path: Path, result: dict) -> Path:
    """A record (clean tree, see common.py); under --quick a plain smoke output, from any tree."""
    if not QUICK_MODE:
        return common.write_record(path, result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**common.START, "quick": True, **result}, indent=2, default=float) + "\n")
    return path


def nanogpt_ready() -> bool:
    return (WORK / "source.json").is_file()


def nanogpt_commit() -> str | None:
    return json.loads((WORK / "source.json").read_text())["commit"] if nanogpt_ready() else None


def our_data(split: str, hold_out: bool = False):
    from noisecraft.data import build_dataset
    from noisecraft.models.registry import load_recipe

    data = load_recipe(OUR_RECIPE, OUR_OVERRIDES).recipe.data
    return build_dataset(data.model_copy(update={"hold_out_validation": hold_out}), split)


def cmd_setup(args: argparse.Namespace) -> None:
    """nanoGPT's source (any git location) into _work/nanogpt/src; its data prepared from our shipped text,
    checked token for token against ours; a second data folder for the pilots (train without validation)."""
    from noisecraft.data.text import SHAKESPEARE_FILE

    shutil.rmtree(SOURCE, ignore_errors=True)
    SOURCE.mkdir(parents=True)
    source = args.source
    if Path(source, "HEAD").is_file():  # a bare git directory
        git = ["git", "--git-dir", source]
    else:
        if not Path(source).is_dir():
            subprocess.run(["git", "clone", "--depth", "1", source, str(WORK / "clone")], check=True)
            source = str(WORK / "clone")
        git = ["git", "-C", source]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run([*git, "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(SOURCE)], input=archive, check=True)
    data = SOURCE / "data" / "shakespeare_char"
    shutil.copy(SHAKESPEARE_FILE, data / "input.txt")  # prepare.py downloads only when input.txt is missing
    subprocess.run([sys.executable, "prepare.py"], cwd=data, check=True, capture_output=True)
    for name, split in (("train", "train"), ("val", "test")):
        if not np.array_equal(np.fromfile(data / f"{name}.bin", dtype=np.uint16), np.asarray(our_data(split).tokens)):
            raise SystemExit(f"nanoGPT's {name}.bin differs from our {split} split: not comparable")
    holdout = SOURCE / "data" / HOLDOUT_DATASET
    holdout.mkdir()
    shutil.copy(data / "meta.pkl", holdout / "meta.pkl")
    np.asarray(our_data("train", hold_out=True).tokens, dtype=np.uint16).tofile(holdout / "train.bin")
    np.asarray(our_data("validation").tokens, dtype=np.uint16).tofile(holdout / "val.bin")
    (WORK / "source.json").write_text(json.dumps({"source": args.source, "commit": commit}, indent=2))
    print(f"nanoGPT {commit} in {SOURCE}")


def nanogpt_model():
    sys.path.insert(0, str(SOURCE))
    from model import GPT, GPTConfig  # nanoGPT's own model.py

    return GPT, GPTConfig


def batches(tokens: np.ndarray, batch: int, block: int, count: int, seed: int) -> list[torch.Tensor]:
    g = np.random.default_rng(seed)
    starts = g.integers(0, len(tokens) - block - 1, size=(count, batch))
    return [torch.from_numpy(np.stack([tokens[s : s + block + 1] for s in row]).astype(np.int64)) for row in starts]


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": float(np.median(values)), "max": max(values)}


def settings(side: str) -> list[dict]:
    """The pilot grid of one side: the same multipliers around its own defaults."""
    if side == "ours":
        from noisecraft.models.registry import load_recipe

        t = load_recipe(OUR_RECIPE).recipe.train
        base = {"lr": t.lr, "batch": t.batch_size, "warmup": t.warmup_steps}
    else:
        base = NANOGPT_BASE
    return [{"lr": base["lr"] * a, "batch": int(base["batch"] * b), "warmup": int(base["warmup"] * c)} for a, b, c in GRID]


def cmd_speed(args: argparse.Namespace) -> None:
    """Training steps (forward, backward, clip, AdamW) of both models at nanoGPT's CPU size, interleaved
    in rounds on the same batches at one thread; per-round step times and their ratio."""
    if (OUT / "speed.json").exists():
        return print("speed.json exists; delete it to run again")
    from noisecraft.models.autoregressive import Transformer
    from noisecraft.models.registry import load_recipe

    torch.set_num_threads(1)
    GPT, GPTConfig = nanogpt_model()
    resolved = load_recipe(OUR_RECIPE, OUR_OVERRIDES)
    train = our_data("train")
    torch.manual_seed(0)
    theirs = GPT(GPTConfig(vocab_size=train.spec.vocab_size, dropout=0.0, bias=False, **SIZE))
    ours = Transformer(resolved.model, train.spec)
    cfg = resolved.recipe.train
    their_opt = theirs.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")  # as its train.py calls it
    our_opt = torch.optim.AdamW(ours.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay,
                                fused=True)  # as noisecraft's training loop makes it

    def their_step(x: torch.Tensor) -> None:
        _, loss = theirs(x[:, :-1].contiguous(), x[:, 1:].contiguous())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        their_opt.step()
        their_opt.zero_grad(set_to_none=True)

    def our_step(x: torch.Tensor) -> None:
        ours({"x": x}).loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        our_opt.step()
        our_opt.zero_grad(set_to_none=True)

    def timed(step, chunk: list[torch.Tensor]) -> float:
        start = time.perf_counter()
        for x in chunk:
            step(x)
        return (time.perf_counter() - start) / len(chunk)

    block, batch = SIZE["block_size"], NANOGPT_BASE["batch"]
    data = batches(train.tokens, batch, block, args.steps * args.rounds + 1, seed=0)
    for step in (their_step, our_step):  # warm-up
        step(data[-1])
    times: dict[str, list[float]] = {"nanogpt": [], "ours": []}
    for r in range(args.rounds):  # the order alternates, so neither side always runs on a warmer machine
        chunk = data[r * args.steps : (r + 1) * args.steps]
        for name, step in (("nanogpt", their_step), ("ours", our_step))[:: 1 if r % 2 == 0 else -1]:
            times[name].append(timed(step, chunk))
    ratios = [t / o for t, o in zip(times["nanogpt"], times["ours"])]
    their_tokens_per_s = {batch: batch * block / float(np.median(times["nanogpt"]))}
    for b in sorted({s["batch"] for s in settings("nanogpt")} - {batch}):  # to set its iterations in the pilots
        chunk = batches(train.tokens, b, block, args.steps * 3, seed=1)
        their_tokens_per_s[b] = b * block / float(np.median([timed(their_step, chunk[i::3]) for i in range(3)]))
    result = {
        "phase": "speed", "nanogpt_commit": nanogpt_commit(), "size": SIZE, "batch": batch, "threads": 1,
        "rounds": args.rounds, "steps_per_round": args.steps,
        "timed_region": "one training step on a batch already in memory: forward, backward, clip, AdamW step",
        "parameters": {"nanogpt": sum(p.numel() for p in theirs.parameters()), "ours": ours.num_parameters()},
        "our_model": resolved.model.model_dump(), "step_seconds": times,
        "tokens_per_s": {k: batch * block / float(np.median(v)) for k, v in times.items()},
        "ratio_tokens_per_s_ours_over_nanogpt": spread(ratios), "ratio_per_round": ratios,
        "nanogpt_tokens_per_s_by_batch": their_tokens_per_s,
    }
    write_record(OUT / "speed.json", result)
    print(json.dumps({k: result[k] for k in ("parameters", "tokens_per_s", "ratio_tokens_per_s_ours_over_nanogpt")}, indent=2))


def our_command(s: dict, seed: int, budget: float, out: Path, hold_out: bool) -> list[str]:
    overrides = [*OUR_OVERRIDES, f"train.max_seconds={budget}", f"train.seed={seed}", f"train.lr={s['lr']}",
                 f"train.batch_size={s['batch']}", f"train.warmup_steps={s['warmup']}",
                 f"data.hold_out_validation={str(hold_out).lower()}"]
    return [sys.executable, "-m", "noisecraft.cli.main", "train", OUR_RECIPE, "--out", str(out), "--quiet",
            *[a for o in overrides for a in ("--set", o)]]


def their_command(s: dict, seed: int, iters: int, out: Path, hold_out: bool) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, str(seed), "config/train_shakespeare_char.py", "--device=cpu",
            "--compile=False", "--eval_iters=20", "--log_interval=10", "--dropout=0.0",
            *[f"--{k}={v}" for k, v in SIZE.items()], f"--batch_size={s['batch']}", f"--learning_rate={s['lr']}",
            f"--min_lr={s['lr'] / 10}", f"--warmup_iters={s['warmup']}", f"--max_iters={iters}",
            f"--lr_decay_iters={iters}", f"--eval_interval={iters}", "--always_save_checkpoint=True",
            f"--dataset={HOLDOUT_DATASET if hold_out else 'shakespeare_char'}", f"--out_dir={out}"]


def run_together(commands: dict[str, tuple[list[str], Path]], folder: Path) -> dict[str, float]:
    """Start every side at once, one thread each; wall seconds from start to exit (the same region for all)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started, wall = time.perf_counter(), {}
    logs = {name: open(folder / f"{name}.log", "w") for name in commands}
    procs = {name: subprocess.Popen(cmd, cwd=cwd, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
             for name, (cmd, cwd) in commands.items()}
    try:
        while len(wall) < len(procs):
            for name, p in procs.items():
                if name not in wall and p.poll() is not None:
                    wall[name] = time.perf_counter() - started
                    if p.returncode != 0:
                        raise SystemExit(f"{name} failed ({p.returncode}); see {folder / (name + '.log')}")
            time.sleep(0.2)
    finally:
        for p in procs.values():
            p.kill()
        for log in logs.values():
            log.close()
    return wall


def train_pair(settings_: dict[str, dict], seed: int, budget: float, folder: Path, hold_out: bool,
               their_iters: int | None, split: str, windows: int | None) -> dict:
    """One run a side, at once; each scored by the same code on `split`."""
    commands = {"ours": (our_command(settings_["ours"], seed, budget, folder / "ours", hold_out), HERE)}
    if "nanogpt" in settings_:
        commands["nanogpt"] = (their_command(settings_["nanogpt"], seed, their_iters, folder / "nanogpt", hold_out), SOURCE)
    wall = run_together(commands, folder)
    block, sides = SIZE["block_size"], {}
    for name, (cmd, _) in commands.items():
        s = settings_[name]
        if name == "ours":
            steps = last_step(folder / "ours")
            score = score_ours(folder / "ours", split, windows)
        else:
            steps = their_iters
            score = score_nanogpt(folder / "nanogpt" / "ckpt.pt", split, windows)
        tokens = steps * s["batch"] * block
        sides[name] = {"setting": s, "command": shlex.join(cmd), "seed": seed if name == "ours" else 1337 + seed,
                       "wall_seconds": wall[name], "steps": steps, "tokens_trained": tokens,
                       "tokens_per_wall_second": tokens / wall[name], split: score}
        if name == "nanogpt":
            ms = [float(m) for m in re.findall(r"iter \d+: loss [\d.]+, time ([\d.]+)ms", (folder / "nanogpt.log").read_text())]
            sides[name]["tokens_per_s_in_loop"] = s["batch"] * block / (float(np.median(ms[1:] or ms)) / 1000) if ms else None
    return sides


def last_step(run: Path) -> int:
    """Steps our trainer took: its final checkpoint's state."""
    return common.trainer_state(run)["step"]


def cmd_pilots(args: argparse.Namespace) -> None:
    """Pilot i of each side at once, on train without validation, scored on validation; one file a pair."""
    if nanogpt_ready() and not (OUT / "speed.json").exists():
        raise SystemExit("run `speed` first: it sets nanoGPT's iterations for the budget")
    speed = json.loads((OUT / "speed.json").read_text()) if nanogpt_ready() else None
    ours, theirs = settings("ours"), settings("nanogpt")
    for i in range(args.pilots):
        path = OUT / "pilots" / f"pilot-{i}.json"
        if path.exists():
            continue
        pair, iters = {"ours": ours[i]}, None
        if speed is not None:
            pair["nanogpt"] = theirs[i]
            rate = speed["nanogpt_tokens_per_s_by_batch"][str(theirs[i]["batch"])]
            iters = max(1, int(args.budget * rate / (theirs[i]["batch"] * SIZE["block_size"])))
        sides = train_pair(pair, PILOT_SEED, args.budget, RUNS / f"pilot-{i}", True, iters, "validation", args.windows)
        write_record(path, {"phase": "pilots", "pilot": i, "multipliers": dict(zip(("lr", "batch", "warmup"), GRID[i])),
                            "budget_seconds": args.budget, "split": "validation", "hold_out_validation": True,
                            "nanogpt_commit": nanogpt_commit(), **sides})
        print(f"pilot {i}: " + ", ".join(f"{k} {v['validation']['loss_nats_per_token']:.4f}" for k, v in sides.items()))


def chosen(expected: int = len(GRID)) -> tuple[dict[str, dict], dict[str, list]]:
    """Each side's setting with the lowest validation loss over its pilots, and every pilot's loss."""
    pilots = [json.loads(p.read_text()) for p in sorted((OUT / "pilots").glob("pilot-*.json"))]
    if len(pilots) < expected:
        raise SystemExit(f"{len(pilots)} of {expected} pilots done; run `pilots` first")
    best, table = {}, {}
    for side in ("ours", "nanogpt"):
        rows = [(p[side]["validation"]["loss_nats_per_token"], p[side]) for p in pilots if side in p]
        if rows:
            table[side] = [{"setting": r["setting"], "validation_loss": loss, "steps": r["steps"],
                            "tokens_per_wall_second": r["tokens_per_wall_second"]} for loss, r in rows]
            best[side] = min(rows, key=lambda row: row[0])[1]
    return best, table


def cmd_race(args: argparse.Namespace) -> None:
    """The chosen settings, whole train split, same wall clock, fresh seeds, scored on test; one file a seed."""
    best, _ = chosen(args.pilots)
    if PILOT_SEED in args.seeds:
        raise SystemExit(f"--seeds: seed {PILOT_SEED} trained the pilots; the race needs fresh ones")
    pair = {side: b["setting"] for side, b in best.items()}
    iters = None
    if "nanogpt" in best:  # its throughput at that batch beside ours in the pilots, as a user would measure it
        rate = best["nanogpt"]["tokens_per_s_in_loop"] or json.loads((OUT / "speed.json").read_text())[
            "nanogpt_tokens_per_s_by_batch"][str(pair["nanogpt"]["batch"])]  # a pilot too short to log an iteration
        iters = max(1, int(args.budget * rate / (pair["nanogpt"]["batch"] * SIZE["block_size"])))
    for seed in args.seeds:
        path = OUT / "race" / f"seed-{seed}.json"
        if path.exists():
            continue
        sides = train_pair(pair, seed, args.budget, RUNS / f"race-{seed}", False, iters, "test", args.windows)
        write_record(path, {"phase": "race", "seed": seed, "budget_seconds": args.budget, "split": "test",
                            "threads_each": 1, "nanogpt_commit": nanogpt_commit(), **sides})
        print(f"race seed {seed}: " + ", ".join(f"{k} {v['test']['loss_nats_per_token']:.4f}" for k, v in sides.items()))


def score_ours(run: Path, split: str, windows: int | None) -> dict:
    from noisecraft.evaluate.evaluator import evaluate_run

    metrics = evaluate_run(run, metrics="loss,bpc,perplexity", split=split, nll_num=windows, progress=False)["metrics"]
    return {k: metrics[k] for k in ("loss_nats_per_token", "bits_per_character", "perplexity")}


def score_nanogpt(ckpt_path: Path, split: str, windows: int | None) -> dict:
    """nanoGPT's final model on our windows of `split` (its tokens are ours, checked in setup)."""
    from noisecraft.evaluate.token_metrics import token_report

    GPT, GPTConfig = nanogpt_model()
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**ckpt["model_args"]))
    model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()})
    model.eval()

    class Wrapped:  # what token_report needs: next-token log-probs of each window
        device = torch.device("cpu")

        @staticmethod
        def token_log_probs(x: torch.Tensor) -> torch.Tensor:
            logits, _ = model(x[:, :-1].contiguous(), x[:, 1:].contiguous())
            return torch.log_softmax(logits.float(), -1).gather(-1, x[:, 1:, None])[..., 0]

    with torch.no_grad():
        report = token_report(Wrapped, our_data(split), max_windows=windows, progress=False)
    return {k: report[k] for k in ("loss_nats_per_token", "bits_per_character", "perplexity")} | {"iter_num": ckpt["iter_num"]}


def cmd_kv(args: argparse.Namespace) -> None:
    """Seconds per generation step (one new token for each of `batch` sequences), with and without the KV
    cache, interleaved; the tokens drawn must be the same."""
    if (OUT / "kv.json").exists():
        return print("kv.json exists; delete it to run again")
    import noisecraft
    from noisecraft.data import build_dataset
    from noisecraft.models.autoregressive import Transformer
    from noisecraft.models.registry import load_recipe

    torch.set_num_threads(1)
    models = {}
    if (RUNS / f"race-{args.race_seed}" / "ours" / "model").is_dir():
        models["race model (context 64)"] = noisecraft.load(RUNS / f"race-{args.race_seed}" / "ours")
    resolved = load_recipe(OUR_RECIPE)  # the recipe's own context (128); and 256, nanoGPT's GPU setting
    for block in (resolved.recipe.data.block_size, 256):
        data = resolved.recipe.data.model_copy(update={"block_size": block})
        models[f"{OUR_RECIPE} size, context {block} (untrained)"] = Transformer(resolved.model, build_dataset(data, "train").spec).eval()
    rows = {}
    for (name, model), batch in ((m, b) for m in models.items() for b in args.batch):
        times: dict[str, list[float]] = {"cache": [], "no_cache": []}
        outputs = {}
        for r in range(args.rounds):
            for use_cache in (True, False) if r % 2 == 0 else (False, True):
                start = time.perf_counter()
                out = model.sample(batch, "ROMEO:", torch.Generator().manual_seed(r), max_tokens=args.tokens, use_cache=use_cache)
                times["cache" if use_cache else "no_cache"].append((time.perf_counter() - start) / args.tokens)
                outputs.setdefault(r, []).append(out)
        same = all(a == b for a, b in outputs.values())
        ratios = [n / c for n, c in zip(times["no_cache"], times["cache"])]
        key = f"{name}, {batch} sequence(s) at once"
        rows[key] = {"seconds_per_step": times, "speedup": spread(ratios), "same_tokens": same,
                     "context": model.context_size, "batch": batch}
        print(f"{key}: KV cache {rows[key]['speedup']['median']:.1f}x (same tokens: {same})")
    write_record(OUT / "kv.json", {"phase": "kv", "tokens": args.tokens, "rounds": args.rounds, "batches": args.batch,
                                   "models": rows})


def verdict(ours: list[float], theirs: list[float]) -> str:
    """Lower loss is better. Under 5% apart is a tie unless >= 3 seeds all show the same sign."""
    diffs = [o - t for o, t in zip(ours, theirs)]
    gap = abs(statistics.mean(ours) - statistics.mean(theirs)) / statistics.mean(theirs)
    agree = len(diffs) >= 3 and (all(d < 0 for d in diffs) or all(d > 0 for d in diffs))
    if gap < 0.05 and not agree:
        return "tie"
    return "ours lower" if statistics.mean(ours) < statistics.mean(theirs) else "nanoGPT lower"


def mean_sd(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def cmd_report(args: argparse.Namespace, write=write_result) -> None:
    speed = json.loads((OUT / "speed.json").read_text()) if (OUT / "speed.json").exists() else None
    kv = json.loads((OUT / "kv.json").read_text())
    best, pilots = chosen(args.pilots)
    races = [json.loads(p.read_text()) for p in sorted((OUT / "race").glob("seed-*.json"))]
    if not races:
        raise SystemExit("no race results; run `race` first")
    loss = {side: [r[side]["test"]["loss_nats_per_token"] for r in races] for side in best}
    race = {"seeds": [r["seed"] for r in races], "budget_seconds": races[0]["budget_seconds"],
            "test_loss_nats_per_char": {side: mean_sd(v) for side, v in loss.items()},
            "tokens_per_wall_second": {side: mean_sd([r[side]["tokens_per_wall_second"] for r in races]) for side in best},
            "wall_seconds": {side: [r[side]["wall_seconds"] for r in races] for side in best}}
    result = {"nanogpt_commit": nanogpt_commit(), "pilots": pilots, "grid_multipliers": GRID,
              "chosen": {side: b["setting"] for side, b in best.items()}, "race": race,
              "kv_speedup": {k: row["speedup"] for k, row in kv["models"].items()}, "speed": speed}
    kv_text = "; ".join(f"{row['batch']} seq, context {row['context']}: {row['speedup']['median']:.1f}x"
                        for row in kv["models"].values())
    if "nanogpt" in loss:
        result["verdict_test_loss"] = verdict(loss["ours"], loss["nanogpt"])
        result["ratio_test_loss_ours_over_nanogpt"] = statistics.mean(loss["ours"]) / statistics.mean(loss["nanogpt"])
        t, o = race["test_loss_nats_per_char"]["nanogpt"], race["test_loss_nats_per_char"]["ours"]
        s = speed["ratio_tokens_per_s_ours_over_nanogpt"]
        summary = (f"Tiny Shakespeare, {race['budget_seconds']:.0f} s each, 1 thread each, after "
                   f"{len(pilots['ours'])} validation pilots a side, test over seeds {race['seeds']}: loss ours {o['mean']:.3f} +- "
                   f"{o['sd']:.3f} vs nanoGPT {t['mean']:.3f} +- {t['sd']:.3f} nats/char ({result['verdict_test_loss']}); "
                   f"train tokens/s ours/nanoGPT {s['median']:.2f} (min {s['min']:.2f}, max {s['max']:.2f}, "
                   f"{speed['rounds']} interleaved rounds); KV cache {kv_text}")
    else:
        summary = f"ours only (nanoGPT not set up): test loss {race['test_loss_nats_per_char']['ours']['mean']:.3f}; KV cache {kv_text}"
    write("text_vs_nanogpt", result, summary)


def quick() -> None:
    """Every phase end to end at toy size into a temp folder; nothing under results/."""
    global OUT, RUNS, QUICK_MODE
    QUICK_MODE = True
    folder = Path(tempfile.mkdtemp(prefix="text_vs_nanogpt-quick-"))
    OUT, RUNS = folder / "out", folder / "runs"
    q = argparse.Namespace(steps=QUICK["steps"], rounds=QUICK["rounds"], budget=QUICK["budget"],
                           windows=QUICK["windows"], seeds=QUICK["seeds"], pilots=QUICK["pilots"], tokens=8, batch=[1],
                           race_seed=1)
    if nanogpt_ready():
        cmd_speed(q)
    else:
        print("QUICK: nanoGPT is not set up (text_vs_nanogpt.py setup --source ...): its side is left out")
    cmd_pilots(q)
    cmd_race(q)
    cmd_kv(q)
    cmd_report(q, write=lambda name, result, summary: print(f"{summary}\nwrote {write_record(folder / f'{name}.json', {'summary': summary, **result})}"))
    shutil.rmtree(RUNS)


def main() -> None:
    if "--quick" in sys.argv[1:]:
        return quick()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup")
    p.add_argument("--source", default="https://github.com/karpathy/nanoGPT", help="git URL, clone, or bare git dir")
    p = sub.add_parser("speed")
    p.add_argument("--steps", type=int, default=20, help="training steps per side per round")
    p.add_argument("--rounds", type=int, default=10)
    for name in ("pilots", "race", "report"):
        p = sub.add_parser(name)
        p.add_argument("--pilots", type=int, default=len(GRID), help=argparse.SUPPRESS)  # fewer: --quick only
        if name == "report":
            continue
        p.add_argument("--budget", type=float, default=600, help="seconds of training per run")
        p.add_argument("--windows", type=int, default=None, help="score only the first N windows (default: all)")
        if name == "race":
            p.add_argument("--seeds", type=lambda v: [int(s) for s in v.split(",")], default=[1, 2, 3])
    p = sub.add_parser("kv")
    p.add_argument("--tokens", type=int, default=300)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--batch", type=lambda v: [int(b) for b in v.split(",")], default=[1, 16])
    p.add_argument("--race-seed", type=int, default=1, help="whose race model to time beside the untrained ones")
    args = parser.parse_args()
    {"setup": cmd_setup, "speed": cmd_speed, "pilots": cmd_pilots, "race": cmd_race, "kv": cmd_kv,
     "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
