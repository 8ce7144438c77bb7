"""The web studio (Gradio, mounted at / of the API's app): pick a model, set what it takes, generate, see and
download the results, each carrying the settings that made it; a history of this page's generations.

Its controls come from the served models' descriptions, and it generates through `Service.run`, the same
checks and batcher as POST /v1/generate.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# before gradio is imported: no usage analytics and no version check (the server never calls out)
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from noisecraft.errors import NoisecraftError  # noqa: E402
from noisecraft.molecule_sampling import is_molecule_model  # noqa: E402
from noisecraft.serve.batcher import QueueFull  # noqa: E402
from noisecraft.serve.outputs import OutputFolder  # noqa: E402
from noisecraft.serve.service import Generation, ServedModel, Service  # noqa: E402

EVERY_CLASS = "(every class in turn)"
# the options with a control of their own (anything else a family takes goes in "more options (JSON)"),
# and each control's value for a model that gives the option no default
UNSET = {"sampler": "default", "steps": 20, "guidance": 1.0, "eta": 0.0, "temperature": 1.0, "max_tokens": 200,
         "top_k": 0, "top_p": 1.0, "negative": ""}


def mount_studio(app: FastAPI, service: Service, outputs: OutputFolder, concurrency: int = 2) -> FastAPI:
    """The studio at / of `app`: at most `concurrency` generations at once and a bounded queue behind them;
    its downloads go to `outputs` (pruned as it goes; the app removes it at shutdown)."""
    blocks = build_studio(service, outputs, concurrency)
    blocks.queue(max_size=4 * concurrency + 8, default_concurrency_limit=concurrency)
    return gr.mount_gradio_app(app, blocks, path="", ssr_mode=False, footer_links=["api"], allowed_paths=[str(outputs.root)])


def build_studio(service: Service, outputs: OutputFolder | None = None, concurrency: int = 2) -> gr.Blocks:
    """The studio's page (`outputs`: where its downloads go; a new folder by default, the caller's to remove)."""
    outputs = outputs or OutputFolder()
    names = list(service.models)
    with gr.Blocks(title="noisecraft studio", analytics_enabled=False) as studio:
        gr.Markdown("## noisecraft studio\nGenerate with trained models. Every image keeps the settings that "
                    "made it (PNG text chunk `noisecraft`), so it can be made again.")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                inputs = input_controls(service, names)
                go = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=2):
                shown = output_controls()
        history_state = gr.State([])
        history = gr.Dataframe(headers=["time", "model", "seed", "num", "settings"], label="history (this page)",
                               interactive=False, elem_id="history")
        model, controls = inputs["model"], inputs["controls"]
        picked = [inputs["about"], inputs["class"], inputs["prompt"], *controls.values(), shown["gallery"], shown["texts"]]
        pick = pick_handler(service, controls)
        model.change(pick, model, picked)
        studio.load(pick, model, picked)
        go.click(run_handler(service, outputs, list(controls)),
                 [model, inputs["class"], inputs["prompt"], inputs["num"], inputs["seed"], *controls.values(), inputs["more"],
                  history_state],
                 [shown["gallery"], shown["texts"], shown["files"], shown["settings"], history_state, history],
                 concurrency_limit=concurrency, api_visibility="private")
        from noisecraft.serve.music_studio import add_music_panel

        add_music_panel(service, outputs.root)  # models of music: upload a melody, see and hear the result
    return studio


def input_controls(service: Service, names: list[str]) -> dict[str, Any]:
    """The left column: model, what it takes, and one control per sampling option (shown when it applies)."""
    out: dict[str, Any] = {"model": gr.Dropdown(names, value=names[0], label="model", elem_id="model")}
    out["about"] = gr.Markdown(describe(service.models[names[0]]), elem_id="about")
    out["class"] = gr.Dropdown([EVERY_CLASS], value=EVERY_CLASS, label="class", visible=False, elem_id="class")
    out["prompt"] = gr.Textbox(label="prompt (text to continue)", lines=3, max_length=1000, visible=False, elem_id="prompt")
    with gr.Row():
        out["num"] = gr.Slider(1, service.max_batch, value=min(8, service.max_batch), step=1, label="samples", elem_id="num")
        out["seed"] = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="seed")
    with gr.Accordion("sampling options", open=True):
        first = service.models[names[0]].model.describe_options()  # shown before the page's load event
        shown = {key: {"value": initial(key, first.get(key)), "visible": key in first} for key in UNSET}
        out["controls"] = {
            "sampler": gr.Dropdown((first.get("sampler") or {}).get("enum") or [shown["sampler"]["value"]],
                                   label="sampler", allow_custom_value=True, **shown["sampler"]),
            "steps": gr.Slider(1, 1000, step=1, label="steps", **shown["steps"]),
            "guidance": gr.Slider(0, 10, step=0.25, label="guidance (1 = none)", **shown["guidance"]),
            "eta": gr.Slider(0, 1, step=0.05, label="eta (DDIM noise)", **shown["eta"]),
            "temperature": gr.Slider(0, 2, step=0.05, label="temperature", **shown["temperature"]),
            "max_tokens": gr.Slider(1, 2000, step=1, label="max tokens", **shown["max_tokens"]),
            "top_k": gr.Number(precision=0, minimum=0, label="top-k (0 = all)", **shown["top_k"]),
            "top_p": gr.Slider(0.05, 1, step=0.05, label="top-p", **shown["top_p"]),
            "negative": gr.Textbox(label="negative prompt (what the image should not be)", max_lines=1,
                                   elem_id="negative", **shown["negative"]),
        }
        out["more"] = gr.Textbox(label="more options (JSON)", placeholder='{"stop": ["\\n\\n"]}', elem_id="more")
    return out


def output_controls() -> dict[str, Any]:
    return {
        "gallery": gr.Gallery(label="images", columns=4, height="auto", buttons=["download", "download_all", "fullscreen"],
                              elem_id="gallery"),
        "texts": gr.Textbox(label="texts", lines=12, visible=False, elem_id="texts"),
        "files": gr.File(label="download", file_count="multiple", elem_id="files"),
        "settings": gr.JSON(label="settings (also inside each PNG)", elem_id="settings"),
    }


def pick_handler(service: Service, controls: dict[str, Any]) -> Callable[[str], list[Any]]:
    """On choosing a model: its description, and only the controls it takes, at its defaults."""

    def pick(name: str) -> list[Any]:
        served = service.models[name]
        m, options = served.model, served.model.describe_options()
        updates = [describe(served)]
        classes = [EVERY_CLASS, *served.describe(service.max_batch)["takes"].get("classes", [])]
        updates.append(gr.update(choices=classes, value=EVERY_CLASS, visible=m.condition_kind == "class"))
        updates.append(gr.update(visible=m.condition_kind == "prompt",
                                 label="prompt (text to continue)" if m.modality == "tokens" else "prompt"))
        for key in controls:
            spec = options.get(key)
            update: dict[str, Any] = {"visible": spec is not None, "value": initial(key, spec)}
            if spec is not None and key == "sampler":
                update["choices"] = spec.get("enum") or [initial(key, spec)]
            updates.append(gr.update(**update))
        level = m.spec.level is not None  # game levels: drawings with the agent's path, whatever the family
        drawn = level or is_molecule_model(m)  # molecules: RDKit drawings beside their SMILES
        updates.append(gr.update(visible=m.modality == "image" or drawn))
        updates.append(gr.update(visible=m.modality == "tokens" and not level))
        return updates

    return pick


def run_handler(service: Service, outputs: OutputFolder, control_names: list[str]) -> Callable[..., tuple]:
    """On Generate: the request from the controls, through `Service.run` (the API's checks and batcher)."""

    def run(name, klass_value, prompt_value, num_value, seed_value, *rest, progress=gr.Progress()):
        *control_values, more_value, past = rest
        served = service.models[name]
        options = chosen_options(served, dict(zip(control_names, control_values)), more_value)
        condition = None
        if served.model.condition_kind == "class" and klass_value not in (None, EVERY_CLASS):
            condition = klass_value
        elif served.model.condition_kind == "prompt":
            condition = prompt_value or None
        progress(0, desc="sampling")
        try:
            result = service.run(name, int(num_value), int(seed_value or 0), condition, **options)
        except (NoisecraftError, QueueFull) as e:
            raise gr.Error(str(e).removeprefix("--")) from None
        gallery_value, text_value, paths = save_outputs(outputs, result, served, prompt_value)
        row = [time.strftime("%H:%M:%S"), name, result.seed, int(num_value), json.dumps(result.settings, ensure_ascii=False)]
        past = [row, *past]
        return gallery_value, text_value, [str(p) for p in paths], result.settings, past, past

    return run


def chosen_options(served: ServedModel, values: dict[str, Any], more: str | None) -> dict[str, Any]:
    """What the user changed; the rest stays the model's own default (eta means nothing to ddpm)."""
    specs = served.model.describe_options()
    options = {k: v for k, v in values.items()
               if k in specs and v not in (initial(k, specs[k]), UNSET[k] if k == "sampler" else None)}
    if options.get("top_k") == 0:
        options["top_k"] = None
    try:
        options.update(json.loads(more) if more and more.strip() else {})
    except ValueError as e:
        raise gr.Error(f"more options: not JSON: {e}") from None
    return options


def save_outputs(outputs: OutputFolder, result: Generation, served: ServedModel,
                 prompt: str | None) -> tuple[list, str, list[Path]]:
    """The files the page shows and offers for download: PNGs, or the texts in one .txt (molecules: their
    drawings and properties too)."""
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}-{served.name}-seed{result.seed}"
    if result.images is not None:
        paths = [outputs.write(f"{stem}-{i:02d}.png", png) for i, png in enumerate(result.images)]
        return [(str(p), f"seed {result.seed} #{i}") for i, p in enumerate(paths)], "", paths
    shown = [f"--- sample {i + 1} (seed {result.seed + i}) ---\n{prompt or ''}{t}" for i, t in enumerate(result.texts)]
    text = "\n".join(shown)
    paths = [outputs.write(f"{stem}.txt", (text + "\n").encode("utf-8"))]
    if not is_molecule_model(served.model):
        return [], text, paths
    from noisecraft.evaluate.molecules import molecule_cards
    from noisecraft.models.provenance import image_claims

    claims = image_claims(served.model, {"family": served.model.family, "seed": result.seed}, name=served.name)
    cards = molecule_cards(result.texts, outputs.root / stem, claims=claims)
    return [(path, caption) for path, caption in cards if path is not None], "\n".join(c for _, c in cards), paths


def initial(key: str, spec: dict[str, Any] | None) -> Any:
    default = (spec or {}).get("default")
    return UNSET[key] if default is None else default


def describe(served: ServedModel) -> str:
    m = served.model
    takes = {"class": "a class", "prompt": "a text prompt", None: "nothing (unconditional)"}[m.condition_kind]
    what = f"images {'x'.join(map(str, m.spec.shape))}" if m.modality == "image" else m.modality
    return f"**{served.name}**: {m.family}, {what}, {m.num_parameters():,} parameters; takes {takes}."
