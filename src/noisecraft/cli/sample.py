"""`noisecraft sample RUN_DIR|MODEL_DIR --num N [--seed S] [--steps K] [--sampler S] [--guidance W] [--class C]
--out FILE.png|DIR [--reconstruct | --interpolate]`; token models print texts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from noisecraft.errors import CheckpointError, ConfigError


def sample(
    path: Path = typer.Argument(..., help="A run folder or a model folder."),
    num: int = typer.Option(16, "--num", "-n", min=1, help="How many samples."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same samples."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Sampling steps, for families that take them (diffusion)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0, help="Scale of the noise / sharpness of the distribution, where the family takes it."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="Diffusion: ddpm, ddim, heun or dpmpp-2m (default: the recipe's)."),
    guidance: Optional[float] = typer.Option(None, "--guidance", min=0.0, help="Classifier-free guidance weight for conditional models (1 = none)."),
    eta: Optional[float] = typer.Option(None, "--eta", min=0.0, max=1.0, help="DDIM noise: 0 deterministic, 1 = DDPM."),
    class_: Optional[str] = typer.Option(None, "--class", help="Class to draw (index or name) for class-conditional models; default: every class in turn."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="FILE.png for one grid (default samples.png), or a folder for one PNG per sample; token models: a .txt file (default: print)."),
    reconstruct: bool = typer.Option(False, "--reconstruct", help="Show test images beside their reconstructions (families with an encoder; needs a run folder)."),
    interpolate: bool = typer.Option(False, "--interpolate", help="One strip of --num images walking the latent space between two random points (VAE, GAN)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, mps ..."),
) -> None:
    """Generate samples from a trained model and save them as a PNG grid or one PNG each."""
    import torch

    import noisecraft
    from noisecraft.models.provenance import image_claims
    from noisecraft.sampling import generate
    from noisecraft.utils.images import save_each, save_grid

    model = noisecraft.load(path, device=device)
    if model.spec.level is not None:
        raise ConfigError(f"sample: {path} holds a model of game levels: noisecraft generate {path} --num {num} --out DIR")
    if model.modality == "tokens":  # unprompted texts; `noisecraft generate` continues a prompt
        from noisecraft.sampling import format_texts, write_texts

        if class_ is not None:
            raise ConfigError(f"--class: the {model.family} family takes a text prompt, not a class: "
                              f"noisecraft generate {path} \"PROMPT\"")
        texts = generate(model, num, seed=seed, temperature=temperature, steps=steps, sampler=sampler,
                         guidance=guidance, eta=eta)
        if out is None:
            typer.echo(format_texts(texts), nl=False)
        else:
            write_texts(out, texts)
            typer.echo(f"wrote {len(texts)} texts to {out}")
        return
    out = out or Path("samples.png")
    if reconstruct and interpolate:
        raise ConfigError("--reconstruct and --interpolate: choose one")
    if interpolate:
        if not hasattr(model, "interpolate"):
            raise ConfigError(f"--interpolate: the {model.family} family has no latent space to walk")
        images = model.interpolate(num, condition=class_, generator=torch.Generator().manual_seed(seed),
                                   **({"temperature": temperature} if temperature is not None else {}))
        nrow = num
    elif reconstruct:
        images, nrow = reconstruction_pairs(model, path, num)
    else:
        images = generate(model, num, seed=seed, condition=class_, steps=steps, temperature=temperature,
                          sampler=sampler, guidance=guidance, eta=eta)
        nrow = None
    settings = {"seed": seed, "num": num, "class": class_, "steps": steps, "temperature": temperature, "sampler": sampler,
                "guidance": guidance, "eta": eta, "mode": "reconstruct" if reconstruct else "interpolate" if interpolate else None}
    claims = {**image_claims(model, settings, name=str(path)), **({"composite": True} if reconstruct else {})}
    if out.suffix.lower() == ".png":
        save_grid(images, out, nrow=nrow, claims=claims)
        typer.echo(f"wrote {len(images)} images to {out}")
    elif out.suffix:
        raise ConfigError(f"--out {out}: give a .png file (one grid) or a folder (one PNG per sample)")
    else:
        files = save_each(images, out, claims=claims)
        typer.echo(f"wrote {len(files)} images to {out}/")


def reconstruction_pairs(model, path: Path, num: int):
    """Test images and their reconstructions side by side: input, output, input, output, ..."""
    import torch

    from noisecraft.data import build_dataset
    from noisecraft.utils.paths import RunDir

    if not hasattr(model, "reconstruct"):
        raise ConfigError(f"--reconstruct: the {model.family} family has no encoder to reconstruct with")
    run = RunDir(path)
    if not run.is_run():
        raise CheckpointError(f"--reconstruct: {path} is not a run folder (its config.yaml names the data to reconstruct)")
    dataset = build_dataset(run.data_config(), "test")
    items = [dataset[i] for i in range(min(num, len(dataset)))]
    x = torch.stack([item["x"] for item in items])
    labels = torch.stack([item["y"] for item in items]) if getattr(model, "num_classes", None) else None
    pairs = torch.stack([x, (model.reconstruct(x, labels) if labels is not None else model.reconstruct(x)).cpu()], dim=1).flatten(0, 1)
    return pairs, 2 * min(8, len(x))
