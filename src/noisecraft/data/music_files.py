"""MIDI and MusicXML in and out of `Music` (pretty_midi and music21 do the file formats).

Reading quantizes every note to the grid (16th notes by default); a file that cannot be read is a
`DataError` naming it. Writing gives one track / part per voice.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from noisecraft.data.music import SATB, Music
from noisecraft.errors import DataError

MIDI_EXTENSIONS = (".mid", ".midi")
XML_EXTENSIONS = (".musicxml", ".xml", ".mxl")
EXTENSIONS = MIDI_EXTENSIONS + XML_EXTENSIONS
DEFAULT_TEMPO = 80.0  # quarter notes per minute: a chorale's walking pace
PROGRAM = 19  # General MIDI church organ


def read_music(path: str | Path, steps_per_quarter: int = 4) -> Music:
    """A MIDI or MusicXML file as `Music` on a grid of `steps_per_quarter` steps per quarter note."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in MIDI_EXTENSIONS:
        return read_midi(path, steps_per_quarter)
    if suffix in XML_EXTENSIONS:
        return read_musicxml(path, steps_per_quarter)
    raise DataError(f"{path}: not a MIDI or MusicXML file (extensions: {', '.join(EXTENSIONS)})")


def voice_names(count: int, names: list[str]) -> tuple[str, ...]:
    if count == 4:
        return SATB
    if count == 1:
        return ("all",)
    return tuple(n or f"voice {i + 1}" for i, n in enumerate(names))


def read_midi(path: Path, steps_per_quarter: int = 4) -> Music:
    import pretty_midi

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about odd but harmless meta events
            midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as e:  # mido raises OSError, EOFError, KeyError, ValueError ... for broken files
        raise DataError(f"{path}: not a readable MIDI file ({type(e).__name__}: {e})") from None
    parts = [i for i in midi.instruments if not i.is_drum and i.notes]
    if not parts:
        raise DataError(f"{path}: the MIDI file holds no notes")
    step = midi.resolution / steps_per_quarter
    notes = []
    for v, part in enumerate(parts):
        for n in part.notes:
            start = int(round(midi.time_to_tick(n.start) / step))
            end = max(start + 1, int(round(midi.time_to_tick(n.end) / step)))
            notes.append((v, n.pitch, start, end))
    key = None
    if midi.key_signature_changes:
        number = midi.key_signature_changes[0].key_number
        key = (number % 12, "major" if number < 12 else "minor")
    tempo = float(midi.get_tempo_changes()[1][0]) if len(midi.get_tempo_changes()[1]) else DEFAULT_TEMPO
    music = Music.from_notes(notes, voice_names(len(parts), [p.name for p in parts]), steps_per_quarter,
                             name=path.stem, key=key, meta={"tempo": tempo})
    return music.with_key()


def read_musicxml(path: Path, steps_per_quarter: int = 4) -> Music:
    import music21

    try:
        score = music21.converter.parse(str(path))
    except Exception as e:  # music21 raises many types for malformed files
        raise DataError(f"{path}: not a readable MusicXML file ({type(e).__name__}: {e})") from None
    return music_from_score(score, steps_per_quarter, name=path.stem, source=str(path))


def music_from_score(score, steps_per_quarter: int = 4, name: str = "music", source: str = "score") -> Music:
    """A music21 score (parts = voices; ties joined; chords kept) as `Music`; fermatas go to meta."""
    import music21

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    notes, fermatas = [], set()
    for v, part in enumerate(parts):
        for element in part.stripTies().flatten().notes:
            start = int(round(float(element.offset) * steps_per_quarter))
            end = max(start + 1, int(round((float(element.offset) + float(element.quarterLength)) * steps_per_quarter)))
            for pitch in element.pitches:
                notes.append((v, int(pitch.midi), start, end))
            if any(isinstance(e, music21.expressions.Fermata) for e in element.expressions):
                fermatas.add(start)
    if not notes:
        raise DataError(f"{source}: the score holds no notes")
    names = [p.partName or "" for p in parts]
    return Music.from_notes(notes, voice_names(len(parts), names), steps_per_quarter, name=name,
                            meta={"fermatas": sorted(fermatas), "tempo": DEFAULT_TEMPO}).with_key()


def write_music(music: Music, path: str | Path) -> Path:
    """By extension: .mid/.midi, or .musicxml/.xml."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in MIDI_EXTENSIONS:
        midi_object(music).write(str(path))
    elif path.suffix.lower() in (".musicxml", ".xml"):
        score(music).write("musicxml", fp=str(path))
    else:
        raise DataError(f"{path}: write .mid or .musicxml")
    return path


def midi_object(music: Music):
    """A pretty_midi.PrettyMIDI: one instrument per voice, at the music's tempo."""
    import pretty_midi

    tempo = float(music.meta.get("tempo", DEFAULT_TEMPO))
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    seconds = 60.0 / tempo / music.steps_per_quarter
    tracks = [pretty_midi.Instrument(program=PROGRAM, name=name) for name in music.voices]
    for v, p, a, b in music.notes():
        tracks[v].notes.append(pretty_midi.Note(velocity=80, pitch=p, start=a * seconds, end=b * seconds))
    if music.key is not None:
        midi.key_signature_changes.append(pretty_midi.KeySignature(music.key[0] + 12 * (music.key[1] == "minor"), 0.0))
    midi.instruments.extend(tracks)
    return midi


def score(music: Music):
    """A music21 Score, one part per voice: every change of what sounds starts a new note, chord or rest,
    and a note that goes on across such a change is tied."""
    import music21

    out = music21.stream.Score()
    spq = music.steps_per_quarter
    starts = music.starts()
    for v, name in enumerate(music.voices):
        part = music21.stream.Part()
        part.partName = name
        part.insert(0, music21.meter.TimeSignature("4/4"))
        roll, begin = music.roll[v], starts[v]
        cuts = sorted({0, music.steps} | set(np.nonzero(begin.any(axis=1))[0].tolist())
                      | set((np.nonzero((roll[1:] != roll[:-1]).any(axis=1))[0] + 1).tolist()))
        for a, b in zip(cuts[:-1], cuts[1:]):
            pitches = np.nonzero(roll[a])[0].tolist()
            length = (b - a) / spq
            if not pitches:
                element = music21.note.Rest(quarterLength=length)
            else:
                element = music21.chord.Chord(pitches, quarterLength=length) if len(pitches) > 1 else \
                    music21.note.Note(pitches[0], quarterLength=length)
                held = [p for p in pitches if not begin[a, p]]
                if held and len(held) == len(pitches):
                    element.tie = music21.tie.Tie("stop")
            part.insert(a / spq, element)
        out.insert(0, part)
    return out.makeNotation() if hasattr(out, "makeNotation") else out


def find_music_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def read_folder(root: str | Path, steps_per_quarter: int = 4, skip_bad_files: bool = False) -> list[Music]:
    """Every MIDI / MusicXML file under `root` (sorted by path). A broken file is an error naming it, or,
    with `skip_bad_files`, skipped and counted in one warning."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"music folder {root} {'is not a folder' if root.exists() else 'does not exist'}")
    files = find_music_files(root)
    if not files:
        raise DataError(f"music folder {root}: no MIDI or MusicXML files ({', '.join(EXTENSIONS)})")
    pieces, bad = [], []
    for path in files:
        try:
            pieces.append(read_music(path, steps_per_quarter))
        except DataError:
            if not skip_bad_files:
                raise
            bad.append(path.name)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable music file(s) of {len(files)} in {root}: {', '.join(bad[:5])}")
    if not pieces:
        raise DataError(f"music folder {root}: none of its {len(files)} files could be read")
    return pieces

