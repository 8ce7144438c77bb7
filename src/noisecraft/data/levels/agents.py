"""Can a level be played? One call for every game: Mario's A* agent, or Zelda's door-to-door check."""

from __future__ import annotations

from dataclasses import dataclass, field

from noisecraft.data.levels import mario, zelda

Point = tuple[int, int]


@dataclass
class Play:
    playable: bool
    paths: list[list[Point]] = field(default_factory=list)  # what the agent walked, (column, row) per tile


def play(rows: list[str] | tuple[str, ...], game: str, physics: mario.Physics = mario.Physics()) -> Play:
    """Run the game's agent on one level (Zelda: one room)."""
    if game == "smb":
        path = mario.solve(rows, physics=physics)
        return Play(path is not None, [path] if path else [])
    if game == "zelda":
        paths = zelda.solve(rows)
        return Play(paths is not None, paths or [])
    raise ValueError(f"no agent for game {game!r}")
