"""The studio's music panel (shown when a model of music is served): upload a melody (MIDI / MusicXML) to
harmonize, or none to compose; see the piano roll, hear the WAV, download MIDI and MusicXML."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from noisecraft.errors import NoisecraftError
from noisecraft.serve.service import Service


def music_models(service: Service) -> list[str]:
    from noisecraft.compose import music_layout

    return [name for name, served in service.models.items() if music_layout(served.model) is not None]


def add_music_panel(service: Service, outputs_dir: Path) -> None:
    """Call inside the studio's Blocks; adds nothing when no model of music is served."""
    names = music_models(service)
    if not names:
        return
    with gr.Accordion("music: harmonize a melody, or compose", open=True, elem_id="music"):
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                model = gr.Dropdown(names, value=names[0], label="model of music", elem_id="music-model")
                melody = gr.File(label="melody (.mid / .musicxml); none: compose", file_types=[".mid", ".midi", ".musicxml", ".xml", ".mxl"],
                                 elem_id="music-melody")
                bars = gr.Slider(1, 32, value=8, step=1, label="bars to compose", elem_id="music-bars")
                seed = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="music-seed")
                go = gr.Button("Make music", variant="primary", elem_id="music-go")
            with gr.Column(scale=2):
                roll = gr.Image(label="piano roll (voices coloured)", elem_id="music-roll")
                audio = gr.Audio(label="listen", type="filepath", elem_id="music-audio")
                files = gr.File(label="download", file_count="multiple", elem_id="music-files")

        def run(name: str, melody_file, bars_value, seed_value):
            try:
                paths = make_music_files(service, name, melody_file, int(bars_value), int(seed_value or 0), outputs_dir)
            except NoisecraftError as e:
                raise gr.Error(str(e)) from None
            by_suffix = {p.suffix: str(p) for p in paths}
            return by_suffix[".png"], by_suffix[".wav"], [by_suffix[".mid"], by_suffix[".musicxml"]]

        go.click(run, [model, melody, bars, seed], [roll, audio, files], api_visibility="private")


def make_music_files(service: Service, name: str, melody_file, bars: int, seed: int, outputs_dir: Path) -> list[Path]:
    """Harmonize the uploaded melody (or compose `bars`) with the served model `name`; the four files."""
    from noisecraft import compose
    from noisecraft.data.music_output import write_music_files
    from noisecraft.data.music_files import read_music

    model = service.models[name].model
    if melody_file:
        pieces = compose.harmonize(model, read_music(Path(getattr(melody_file, "name", melody_file))), 1, seed)
    else:
        pieces = compose.compose(model, bars, 1, seed)
    from noisecraft.models.provenance import image_claims

    stem = outputs_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-seed{seed}"
    settings = {"family": model.family, "seed": seed, "task": "harmonize" if melody_file else "compose"}
    return write_music_files(pieces[0], stem, claims=image_claims(model, settings, name=name))
