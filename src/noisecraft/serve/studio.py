"""The web studio (Gradio, mounted at / of the API's app): pick a model, set what it takes, generate, see and
download the results, each carrying the settings that made it; a history of this page's generations.

Its controls come from the served models' descriptions, and it generates through `Service.run`, the same
checks and batcher as POST /v1/generate.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from noisecraft.errors import NoisecraftError
from noisecraft.molecule_sampling import is_molecule_model
from noisecraft.serve.service import GenerationTimeout, ServedModel, Service

EVERY_CLASS = "(every class in turn)"
# the options with a control of their own (anything else a family takes goes in "more options (JSON)"),
# and each control's value for a model that gives the option no default
UNSET = {"sampler": "default", "steps": 20, "guidance": 1.0, "eta": 0.0, "temperature": 1.0, "max_tokens": 200,
         "top_k": 0, "top_p": 1.0, "negative": ""}


def build_studio(service: Service) -> gr.Blocks:
    outputs_dir = Path(tempfile.mkdtemp(prefix="noisecraft-studio-"))
    names = list(service.models)

    with gr.Blocks(title="noisecraft studio") as studio:
        gr.Markdown("## noisecraft studio\nGenerate with trained models. Every image keeps the settings that "
                    "made it (PNG text chunk `noisecraft`), so it can be made again.")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                model = gr.Dropdown(names, value=names[0], label="model", elem_id="model")
                about = gr.Markdown(describe(service.models[names[0]]), elem_id="about")
                klass = gr.Dropdown([EVERY_CLASS], value=EVERY_CLASS, label="class", visible=False, elem_id="class")
                prompt = gr.Textbox(label="prompt (text to continue)", lines=3, max_length=1000, visible=False, elem_id="prompt")
                with gr.Row():
                    num = gr.Slider(1, service.max_batch, value=min(8, service.max_batch), step=1, label="samples", elem_id="num")
                    seed = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="seed")
                with gr.Accordion("sampling options", open=True):
                    first = service.models[names[0]].model.describe_options()  # shown before the page's load event
                    shown = {key: {"value": initial(key, first.get(key)), "visible": key in first} for key in UNSET}
                    controls = {
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
                    more = gr.Textbox(label="more options (JSON)", placeholder='{"stop": ["\\n\\n"]}', elem_id="more")
                go = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=2):
                gallery = gr.Gallery(label="images", columns=4, height="auto", buttons=["download", "download_all", "fullscreen"],
                                     elem_id="gallery")
                texts = gr.Textbox(label="texts", lines=12, visible=False, elem_id="texts")
                files = gr.File(label="download", file_count="multiple", elem_id="files")
                settings = gr.JSON(label="settings (also inside each PNG)", elem_id="settings")
        history_state = gr.State([])
        history = gr.Dataframe(headers=["time", "model", "seed", "num", "settings"], label="history (this page)",
                               interactive=False, elem_id="history")

        def pick(name: str):
            served = service.models[name]
            m, options = served.model, served.model.describe_options()
            updates = [describe(served)]
            classes = [EVERY_CLASS, *served.describe(service.max_batch)["takes"].get("classes", [])]
            updates.append(gr.update(choices=classes, value=EVERY_CLASS, visible=m.condition_kind == "class"))
            updates.append(gr.update(visible=m.condition_kind == "prompt",
                                     label="prompt (text to continue)" if m.modality == "tokens" else "prompt"))
            for key, control in controls.items():
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

        model.change(pick, model, [about, klass, prompt, *controls.values(), gallery, texts])
        studio.load(pick, model, [about, klass, prompt, *controls.values(), gallery, texts])

        def run(name, klass_value, prompt_value, num_value, seed_value, *rest, progress=gr.Progress()):
            *control_values, more_value, past = rest
            served = service.models[name]
            specs = served.model.describe_options()
            # what the user changed; the rest stays the model's own default (eta means nothing to ddpm)
            options = {k: v for k, v in zip(controls, control_values)
                       if k in specs and v not in (initial(k, specs[k]), UNSET[k] if k == "sampler" else None)}
            if options.get("top_k") == 0:
                options["top_k"] = None
            try:
                options.update(json.loads(more_value) if more_value and more_value.strip() else {})
            except ValueError as e:
                raise gr.Error(f"more options: not JSON: {e}") from None
            condition = None
            if served.model.condition_kind == "class" and klass_value not in (None, EVERY_CLASS):
                condition = klass_value
            elif served.model.condition_kind == "prompt":
                condition = prompt_value or None
            progress(0, desc="sampling")
            try:
                result = service.run(name, int(num_value), int(seed_value or 0), condition, **options)
            except (NoisecraftError, GenerationTimeout) as e:
                raise gr.Error(str(e).removeprefix("--")) from None
            stem = outputs_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-seed{result.seed}"
            if result.images is not None:
                paths = []
                for i, png in enumerate(result.images):
                    paths.append(stem.with_name(f"{stem.name}-{i:02d}.png"))
                    paths[-1].write_bytes(png)
                gallery_value = [(str(p), f"seed {result.seed} #{i}") for i, p in enumerate(paths)]
                text_value = ""
            else:
                shown = [f"--- sample {i + 1} (seed {result.seed + i}) ---\n{prompt_value or ''}{t}" for i, t in enumerate(result.texts)]
                text_value = "\n".join(shown)
                paths = [stem.with_suffix(".txt")]
                paths[0].write_text(text_value + "\n", encoding="utf-8")
                gallery_value = []
                if is_molecule_model(served.model):
                    from noisecraft.evaluate.molecules import molecule_cards

                    cards = molecule_cards(result.texts, stem)
                    gallery_value = [(path, caption) for path, caption in cards if path is not None]
                    text_value = "\n".join(caption for _, caption in cards)
            row = [time.strftime("%H:%M:%S"), name, result.seed, int(num_value), json.dumps(result.settings, ensure_ascii=False)]
            past = [row, *past]
            return gallery_value, text_value, [str(p) for p in paths], result.settings, past, past

        go.click(run, [model, klass, prompt, num, seed, *controls.values(), more, history_state],
                 [gallery, texts, files, settings, history_state, history], concurrency_limit=None,
                 api_visibility="private")
        from noisecraft.serve.music_studio import add_music_panel

        add_music_panel(service, outputs_dir)  # models of music: upload a melody, see and hear the result
    studio.noisecraft_outputs = outputs_dir
    return studio


def initial(key: str, spec: dict[str, Any] | None) -> Any:
    default = (spec or {}).get("default")
    return UNSET[key] if default is None else default


def describe(served: ServedModel) -> str:
    m = served.model
    takes = {"class": "a class", "prompt": "a text prompt", None: "nothing (unconditional)"}[m.condition_kind]
    what = f"images {'x'.join(map(str, m.spec.shape))}" if m.modality == "image" else m.modality
    return f"**{served.name}**: {m.family}, {what}, {m.num_parameters():,} parameters; takes {takes}."
