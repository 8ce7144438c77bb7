"""`noisecraft evaluate RUN_DIR --metrics fid,kid,pr,nll,memorization,c2st [--num 10000] [--split test]` -> RUN_DIR/metrics.json."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table


def evaluate(
    run_dir: str = typer.Argument(..., help="A run folder (its config.yaml names the reference data), or pretrained:NAME."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated: fid, kid, pr, cfid, classes, nll, memorization, c2st, prompt (default: the protocol's, plus nll where the family has a likelihood); token models: loss, bpc, perplexity (default: all three), nll, memorization; level models: levels, memorization (default: levels); models of music: nll, music (default: both)."),
    protocol: str = typer.Option("headline", "--protocol", help="headline: 10k samples, Inception FID/KID/PR; sweep: 2k samples, FID/KID + classifier metrics."),
    num: Optional[int] = typer.Option(None, "--num", min=2, help="Generated samples (default: the protocol's). Never compare FIDs of different N."),
    split: str = typer.Option("test", "--split", help="Reference split of the run's data: test (the headline), validation (pilots, early choices) or train."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    nll_samples: int = typer.Option(100, "--nll-samples", min=1, help="Importance samples per example for likelihood bounds (IWAE k)."),
    nll_num: Optional[int] = typer.Option(None, "--nll-num", min=1, help="Evaluate the likelihood on the first N examples (token models: windows) of the split (default: all)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Sampling option, for families that take it."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="Diffusion sampler: ddpm, ddim, heun, dpmpp-2m."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Sampling steps, for families that take them."),
    guidance: Optional[float] = typer.Option(None, "--guidance", min=0.0, help="Classifier-free guidance weight."),
    eta: Optional[float] = typer.Option(None, "--eta", min=0.0, max=1.0, help="DDIM noise."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    scorer: Optional[Path] = typer.Option(None, "--scorer", help="--metrics prompt: a CLIP-style scorer run (shapes-clip) for clip_score."),
    prompts: int = typer.Option(32, "--prompts", min=1, help="--metrics prompt: prompts per category and split (2 images each)."),
    condition: Optional[str] = typer.Option(None, "--condition", help="--metrics moses: sample conditioned on properties, e.g. qed=0.9."),
) -> None:
    """Measure a trained model: sample quality against the data's test split, and likelihood."""
    from noisecraft.evaluate.evaluator import evaluate_run, metrics_file
    from noisecraft.utils.pretrained import resolve
    from noisecraft.utils.paths import RunDir

    options = {"temperature": temperature, "sampler": sampler, "steps": steps, "guidance": guidance, "eta": eta}
    result = evaluate_run(run_dir, metrics=metrics, protocol=protocol, num=num, split=split, seed=seed,
                          nll_samples=nll_samples, nll_num=nll_num, sample_options=options, progress=not quiet,
                          scorer=scorer, prompts=prompts, condition=condition)
    info = result["protocol"]
    size = f"{info['num_samples']} samples" if "num_samples" in info else f"{info['tokens']:,} tokens of the {info['split']} split" \
        if "tokens" in info else f"the {info['split']} split"
    table = Table("metric", "value", title=f"{run_dir} ({info['name']}, {size})")
    for name, value in result["metrics"].items():
        table.add_row(name, f"{value:.6g}" if isinstance(value, float) else str(value))
    for name, value in result["timing"].items():
        if value is not None:
            table.add_row(name, f"{value:.4g}")
    Console().print(table)
    typer.echo(f"wrote {metrics_file(RunDir(resolve(run_dir)))}")
