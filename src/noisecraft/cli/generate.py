"""`noisecraft generate RUN_DIR "ROMEO:" --max-tokens 300 --temperature 0.8`: continue a prompt, streamed;
image models: `noisecraft generate RUN "a big red circle" --num 8 --out DIR` (cli/generate_images.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from noisecraft.errors import ConfigError


def generate(
    path: str = typer.Argument(..., help="A run folder or a model folder of a token model (transformer, lstm), or of any model of music, or pretrained:NAME."),
    prompt: str = typer.Argument("", help="Text to continue (default: the start token, a newline)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=0, help="Tokens to generate (default: the model's)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0, help="Sharpness: < 1 safer, > 1 wilder, 0 greedy."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Sample only among the k likeliest tokens."),
    top_p: Optional[float] = typer.Option(None, "--top-p", min=0.0, max=1.0, help="Sample only among the likeliest tokens holding this much probability."),
    repetition_penalty: Optional[float] = typer.Option(None, "--repetition-penalty", min=0.0, help="> 1 discourages tokens already in the text (1 = none)."),
    stop: Optional[list[str]] = typer.Option(None, "--stop", help="Stop before this string (repeatable); \\n means a newline."),
    num: int = typer.Option(1, "--num", "-n", min=1, help="How many continuations."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same text."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the texts to this file (level models: a folder; image models: the folder for one PNG per sample)."),
    width: Optional[int] = typer.Option(None, "--width", min=2, help="Level models: columns per level (default: 150 Mario columns, a Zelda room)."),
    playable: bool = typer.Option(False, "--playable", help="Level models: redraw each level until the game's agent can play it."),
    max_tries: int = typer.Option(100, "--max-tries", min=1, help="Level models with --playable: draws per level at most."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, mps ..."),
    guidance: Optional[float] = typer.Option(None, "--guidance", min=0.0, help="Images: classifier-free guidance weight (1 = none)."),
    negative: Optional[str] = typer.Option(None, "--negative", help="Images: a negative prompt (what the picture should not be)."),
    rerank: int = typer.Option(1, "--rerank", min=1, help="Images: draw K candidates per image, keep the one --scorer likes best."),
    scorer: Optional[Path] = typer.Option(None, "--scorer", help="Images: a CLIP-style scorer run (shapes-clip) for --rerank and scores."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Images: sampling steps, for families that take them."),
    condition: Optional[str] = typer.Option(None, "--condition", help="Molecule models: properties to aim for, e.g. qed=0.9 (the model must be trained with data.properties)."),
    melody: Optional[Path] = typer.Option(None, "--melody", help="Music: harmonize this melody (.mid / .musicxml), kept note for note as the soprano."),
    inpaint: Optional[Path] = typer.Option(None, "--inpaint", help="Music: redraw --voices and/or --bars of this piece, keep the rest."),
    voices: Optional[str] = typer.Option(None, "--voices", help="Music, with --inpaint: voices to redraw, e.g. alto,tenor (or 2,3)."),
    bars: Optional[str] = typer.Option(None, "--bars", help="Music: bars to compose (default 8) or to add after --prompt-file (default 4); with --inpaint a range A-B."),
    prompt_file: Optional[Path] = typer.Option(None, "--prompt-file", help="Music: continue this piece (.mid / .musicxml)."),
    formats: Optional[str] = typer.Option(None, "--formats", help="Music: files to write beside --out (default mid,musicxml,png,wav)."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="Music roll models: flip (add/remove notes) or gibbs."),
    passes: Optional[float] = typer.Option(None, "--passes", min=0.0, help="Music roll models: how long to sample."),
    change_share: Optional[float] = typer.Option(None, "--change-share", min=0.0, max=1.0, help="Music, flip sampler: share of the starting notes it may remove."),
) -> None:
    """Continue a prompt with a token model, streaming the text to the terminal as it is generated; or draw
    the images a prompt describes with a text-to-image model."""
    import noisecraft
    from noisecraft.sampling import generate_text, write_texts

    model = noisecraft.load(path, device=device)
    if model.spec.level is not None:  # game levels: files and pictures (cli/levels.py)
        from noisecraft.cli.levels import generate_level_files

        if prompt:
            raise ConfigError(f"generate: {path} holds a model of game levels: it takes no prompt (levels are drawn whole)")
        return generate_level_files(model, num=num, width=width, seed=seed, out=out, playable=playable,
                                    max_tries=max_tries, options={"max_tokens": max_tokens, "temperature": temperature,
                                    "top_k": top_k, "top_p": top_p, "repetition_penalty": repetition_penalty})
    from noisecraft.compose import music_layout

    if music_layout(model) is not None:  # music: its own tasks and files (cli/music.py)
        from noisecraft.cli.music import generate_music

        roll = music_layout(model)["kind"] == "music-roll"
        options = {"temperature": temperature, "sampler": sampler, "passes": passes, "change_share": change_share} if roll \
            else {"temperature": temperature, "top_k": top_k, "top_p": top_p, "max_tokens": max_tokens}
        generate_music(model, melody=melody, inpaint=inpaint, prompt_file=prompt_file, voices=voices, bars=bars,
                       num=num, seed=seed, out=out, formats=formats, options=options)
        return
    if model.modality == "image":
        from noisecraft.cli.generate_images import generate_images

        return generate_images(model, path, prompt, num=num, seed=seed, out=out, rerank=rerank, scorer_path=scorer,
                               options={"guidance": guidance, "negative": negative, "steps": steps})
    from noisecraft.molecule_sampling import is_molecule_model

    if is_molecule_model(model):
        from noisecraft.cli.molecules import generate_molecules_cli

        return generate_molecules_cli(model, num=num, seed=seed, out=out, condition=condition,
                                      max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p)
    if condition is not None:
        raise ConfigError(f"--condition: only for molecule models; {path} holds a {model.family} model of text")
    if model.modality != "tokens":
        raise ConfigError(f"generate: {path} holds a {model.family} model of {model.modality}s; use `noisecraft sample`")
    prompt = unescape(prompt)
    if prompt:
        model.encode_prompt(prompt)  # a character it cannot encode fails here, before anything is printed
    stops = [unescape(s) for s in stop] if stop else None
    options = {"max_tokens": max_tokens, "temperature": temperature, "top_k": top_k, "top_p": top_p,
               "repetition_penalty": repetition_penalty, "stop": stops}
    texts: list[str] = []
    for i in range(num):  # one at a time, so each streams; seeds seed, seed + 1, ...
        if num > 1:
            typer.echo(f"--- sample {i + 1} (seed {seed + i}) ---")
        sys.stdout.write(prompt)
        sys.stdout.flush()
        texts += generate_text(model, 1, seed=seed + i, prompt=prompt or None, stream=_write, **options)
        sys.stdout.write("\n")
        sys.stdout.flush()
    if out is not None:
        write_texts(out, [prompt + t for t in texts])
        typer.echo(f"wrote {len(texts)} text(s) to {out}", err=True)


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def unescape(text: str) -> str:
    r"""`\n` and `\t` typed on a command line mean a newline and a tab."""
    return text.replace("\\n", "\n").replace("\\t", "\t")

