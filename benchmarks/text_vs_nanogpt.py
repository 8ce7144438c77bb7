"""Our transformer against nanoGPT (karpathy/nanoGPT, run from its own source) on Tiny Shakespeare, same CPU.

nanoGPT is not a dependency: `setup` places its public source in the git-ignored benchmarks/_work/nanogpt/src
(the commit is recorded) and prepares its shakespeare_char data from the copy noisecraft ships, so nothing
is downloaded. Its documented CPU configuration: 4 layers, 4 heads, 128 dims, block 64, batch 12, no
dropout, no compile.

    python text_vs_nanogpt.py setup --source https://github.com/karpathy/nanoGPT   # or a local clone / git dir
    OMP_NUM_THREADS=1 python text_vs_nanogpt.py speed    # (a) train tokens/s, interleaved, same batches
    python text_vs_nanogpt.py race --budget 600          # (b) both at once, one thread each, same wall clock
    OMP_NUM_THREADS=1 python text_vs_nanogpt.py kv       # (c) sampling time per token, KV cache on vs off
    python text_vs_nanogpt.py report

Each phase writes results/text_vs_nanogpt/<phase>.json and resumes by skipping what exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from common import HERE, RESULTS, write_record, write_result

WORK = HERE / "_work" / "nanogpt"
SOURCE = WORK / "src"
OUT = RESULTS / "text_vs_nanogpt"
RACE = HERE / "_work" / "text-race"
SIZE = {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "batch_size": 12}  # README's CPU command
OUR_RECIPE = "shakespeare-char"
OUR_OVERRIDES = ["data.block_size=64"]  # same context as nanoGPT's, so validation losses compare like for like


def nanogpt_commit() -> str:
    return json.loads((WORK / "source.json").read_text())["commit"]


def cmd_setup(args: argparse.Namespace) -> None:
    """nanoGPT's source (any git location) into _work/nanogpt/src; its data prepared from our shipped text."""
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
    subprocess.run([sys.executable, "prepare.py"], cwd=data, check=True)
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


def cmd_speed(args: argparse.Namespace) -> None:
    """Training steps (forward, backward, clip, AdamW) of both models at nanoGPT's CPU size, interleaved
    in rounds on the same batches; medians of the per-round step times."""
    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset
    from noisecraft.models.autoregressive import Transformer

    GPT, GPTConfig = nanogpt_model()
    resolved = load_recipe(OUR_RECIPE, OUR_OVERRIDES)
    train = build_dataset(resolved.recipe.data, "train")
    torch.manual_seed(0)
    theirs = GPT(GPTConfig(vocab_size=train.spec.vocab_size, dropout=0.0, bias=False,
                           **{k: SIZE[k] for k in ("n_layer", "n_head", "n_embd", "block_size")}))
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

    data = batches(train.tokens, SIZE["batch_size"], SIZE["block_size"], args.steps * args.rounds + 2, seed=0)
    times: dict[str, list[float]] = {"nanogpt": [], "ours": []}
    for step in (their_step, our_step):  # warm-up
        step(data[-1])
    for r in range(args.rounds):
        chunk = data[r * args.steps : (r + 1) * args.steps]
        for name, step in (("nanogpt", their_step), ("ours", our_step)) if r % 2 == 0 else (("ours", our_step), ("nanogpt", their_step)):
            start = time.perf_counter()
            for x in chunk:
                step(x)
            times[name].append((time.perf_counter() - start) / len(chunk))
    tokens_per_step = SIZE["batch_size"] * SIZE["block_size"]
    median = {k: float(np.median(v)) for k, v in times.items()}
    result = {
        "phase": "speed", "nanogpt_commit": nanogpt_commit(), "size": SIZE,
        "parameters": {"nanogpt": sum(p.numel() for p in theirs.parameters()), "ours": ours.num_parameters()},
        "our_model": resolved.model.model_dump(), "step_seconds": times,
        "tokens_per_s": {k: tokens_per_step / v for k, v in median.items()},
        "ratio_tokens_per_s_ours_over_nanogpt": median["nanogpt"] / median["ours"],
    }
    write_record(OUT / "speed.json", result)
    print(json.dumps({k: result[k] for k in ("parameters", "tokens_per_s", "ratio_tokens_per_s_ours_over_nanogpt")}, indent=2))


def cmd_race(args: argparse.Namespace) -> None:
    """Both trainers at once, one thread each, for the same wall-clock budget; then both final models are
    scored by the same code on the whole validation split."""
    if (OUT / "race.json").exists():
        print("race.json exists; delete it to run again")
        return
    speed = json.loads((OUT / "speed.json").read_text())
    # nanoGPT has no time budget: its iterations (and cosine decay length) are what fits the budget at the
    # speed measured above, as a user would set them
    iters = int(args.budget * speed["tokens_per_s"]["nanogpt"] / (SIZE["batch_size"] * SIZE["block_size"]))
    shutil.rmtree(RACE, ignore_errors=True)
    RACE.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    their_cmd = [sys.executable, "train.py", "config/train_shakespeare_char.py", "--device=cpu", "--compile=False",
                 "--eval_iters=20", "--log_interval=10", "--dropout=0.0", *[f"--{k}={v}" for k, v in SIZE.items()],
                 f"--max_iters={iters}", f"--lr_decay_iters={iters}", f"--eval_interval={iters}",
                 "--always_save_checkpoint=True", f"--out_dir={RACE / 'nanogpt'}"]
    overrides = [*OUR_OVERRIDES, f"train.max_seconds={args.budget}", "train.sample_every=1000000", "train.tensorboard=false"]
    our_cmd = [sys.executable, "-m", "noisecraft.cli.main", "train", OUR_RECIPE, "--out", str(RACE / "ours"),
               *[a for o in overrides for a in ("--set", o)]]
    started = time.perf_counter()
    with open(RACE / "nanogpt.log", "w") as their_log, open(RACE / "ours.log", "w") as our_log:
        procs = {"nanogpt": subprocess.Popen(their_cmd, cwd=SOURCE, env=env, stdout=their_log, stderr=subprocess.STDOUT),
                 "ours": subprocess.Popen(our_cmd, cwd=HERE, env=env, stdout=our_log, stderr=subprocess.STDOUT)}
        wall = {}
        while len(wall) < len(procs):
            for name, p in procs.items():
                if name not in wall and p.poll() is not None:
                    wall[name] = time.perf_counter() - started
                    if p.returncode != 0:
                        for other in procs.values():
                            other.kill()
                        raise SystemExit(f"{name} failed ({p.returncode}); see {RACE / (name + '.log')}")
            time.sleep(1)

    log = (RACE / "nanogpt.log").read_text()
    iter_ms = [float(m) for m in re.findall(r"iter \d+: loss [\d.]+, time ([\d.]+)ms", log)][1:]
    their_val = [float(v) for v in re.findall(r"val loss ([\d.]+)", log)]
    metrics = [row.split(",") for row in (RACE / "ours" / "metrics.csv").read_text().splitlines()]
    col = metrics[0].index("tokens_per_s")
    our_tps = [float(r[col]) for r in metrics[1:] if len(r) > col and r[col]]
    result = {
        "phase": "race", "budget_seconds": args.budget, "threads_each": 1, "nanogpt_commit": nanogpt_commit(),
        "commands": {"nanogpt": " ".join(their_cmd), "ours": " ".join(our_cmd)},
        "wall_seconds": wall, "nanogpt_iterations": iters,
        "train_tokens_per_s": {"nanogpt": SIZE["batch_size"] * SIZE["block_size"] / (float(np.median(iter_ms)) / 1000),
                               "ours": float(np.median(our_tps))},
        "nanogpt_own_val_loss_estimates": their_val,
        "validation": {"nanogpt": score_nanogpt(RACE / "nanogpt" / "ckpt.pt"), "ours": score_ours(RACE / "ours")},
    }
    v = result["validation"]
    result["ratio_val_loss_ours_over_nanogpt"] = v["ours"]["loss_nats_per_token"] / v["nanogpt"]["loss_nats_per_token"]
    t = result["train_tokens_per_s"]
    result["ratio_train_tokens_per_s_ours_over_nanogpt"] = t["ours"] / t["nanogpt"]
    write_record(OUT / "race.json", result)
    print(json.dumps({k: result[k] for k in ("wall_seconds", "train_tokens_per_s", "validation")}, indent=2))


def validation_split():
    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset

    return build_dataset(load_recipe(OUR_RECIPE, OUR_OVERRIDES).recipe.data, "test")


def score_ours(run: Path) -> dict:
    from noisecraft.evaluate.evaluator import evaluate_run

    return evaluate_run(run, progress=False)["metrics"]


def score_nanogpt(ckpt_path: Path) -> dict:
    """nanoGPT's final model on our validation windows (identical characters: the same 90/10 split)."""
    from noisecraft.evaluate.token_metrics import token_report

    GPT, GPTConfig = nanogpt_model()
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**ckpt["model_args"]))
    model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in ckpt["state_dict" if "state_dict" in ckpt else "model"].items()})
    model.eval()
    val = validation_split()
    theirs = np.fromfile(SOURCE / "data" / "shakespeare_char" / "val.bin", dtype=np.uint16)
    if not np.array_equal(theirs, np.asarray(val.tokens)):
        raise SystemExit("nanoGPT's val.bin differs from our validation split: not comparable")

    class Wrapped:  # what token_report needs: next-token log-probs of each window
        device = torch.device("cpu")

        @staticmethod
        def token_log_probs(x: torch.Tensor) -> torch.Tensor:
            logits, _ = model(x[:, :-1].contiguous(), x[:, 1:].contiguous())
            return torch.log_softmax(logits.float(), -1).gather(-1, x[:, 1:, None])[..., 0]

    report = token_report(Wrapped, val, progress=False)
    return {k: report[k] for k in ("loss_nats_per_token", "bits_per_character", "perplexity")} | {"iter_num": ckpt["iter_num"]}


def cmd_kv(args: argparse.Namespace) -> None:
    """Seconds per generation step (one new token for each of `batch` sequences), with and without the KV
    cache, interleaved; the tokens drawn must be the same."""
    import noisecraft
    from noisecraft.models.registry import load_recipe
    from noisecraft.data import build_dataset
    from noisecraft.models.autoregressive import Transformer

    models = {}
    if (RACE / "ours" / "model").is_dir():
        models["race model (context 64)"] = noisecraft.load(RACE / "ours")
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
        med = {k: float(np.median(v)) for k, v in times.items()}
        key = f"{name}, {batch} sequence(s) at once"
        rows[key] = {"seconds_per_step": times, "median": med, "speedup": med["no_cache"] / med["cache"],
                     "same_tokens": same, "context": model.context_size, "batch": batch}
        print(f"{key}: {med['no_cache'] * 1e3:.2f} ms/step without cache, {med['cache'] * 1e3:.2f} with: "
              f"{rows[key]['speedup']:.1f}x (same tokens: {same})")
    write_record(OUT / "kv.json", {"phase": "kv", "tokens": args.tokens, "rounds": args.rounds, "batches": args.batch,
                                   "models": rows})


def cmd_report(args: argparse.Namespace) -> None:
    speed = json.loads((OUT / "speed.json").read_text())
    race = json.loads((OUT / "race.json").read_text())
    kv = json.loads((OUT / "kv.json").read_text())
    v = race["validation"]
    kv_speedups = {name: row["speedup"] for name, row in kv["models"].items()}
    targets = {
        "train_tokens_per_s_ratio_interleaved (target >= 1.3)": speed["ratio_tokens_per_s_ours_over_nanogpt"],
        "train_tokens_per_s_ratio_in_race (target >= 1.3)": race["ratio_train_tokens_per_s_ours_over_nanogpt"],
        "val_loss_ours_below_nanogpt_at_budget": v["ours"]["loss_nats_per_token"] < v["nanogpt"]["loss_nats_per_token"],
        "kv_cache_speedup (target >= 5)": kv_speedups,
    }
    summary = (f"Tiny Shakespeare, {race['budget_seconds'] / 60:.0f} min each, 1 thread each: val loss ours "
               f"{v['ours']['loss_nats_per_token']:.3f} vs nanoGPT {v['nanogpt']['loss_nats_per_token']:.3f} nats/char "
               f"({race['ratio_val_loss_ours_over_nanogpt']:.3f}x); train tokens/s ours/nanoGPT "
               f"{speed['ratio_tokens_per_s_ours_over_nanogpt']:.2f} (interleaved), "
               f"{race['ratio_train_tokens_per_s_ours_over_nanogpt']:.2f} (in the race); KV cache "
               + "; ".join(f"{b} seq: " + "/".join(f"{r['speedup']:.1f}x" for r in kv["models"].values() if r["batch"] == b)
                           for b in kv["batches"])
               + " at context " + "/".join(str(r["context"]) for r in kv["models"].values() if r["batch"] == kv["batches"][0]))
    write_result("text_vs_nanogpt", {"nanogpt_commit": speed["nanogpt_commit"], "speed": speed, "race": race, "kv": kv,
                                     "targets": targets}, summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup")
    p.add_argument("--source", default="https://github.com/karpathy/nanoGPT", help="git URL, clone, or bare git dir")
    p = sub.add_parser("speed")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=6)
    p = sub.add_parser("race")
    p.add_argument("--budget", type=float, default=600)
    p = sub.add_parser("kv")
    p.add_argument("--tokens", type=int, default=300)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--batch", type=lambda v: [int(b) for b in v.split(",")], default=[1, 16])
    sub.add_parser("report")
    args = parser.parse_args()
    {"setup": cmd_setup, "speed": cmd_speed, "race": cmd_race, "kv": cmd_kv, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
