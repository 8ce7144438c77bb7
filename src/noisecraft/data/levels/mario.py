"""An A* agent for Super Mario Bros tile levels: can small Mario get from the left edge to the right edge?

Mario is one tile. Each move takes him one tile up or down and at most one tile sideways (or one tile
sideways on the ground), as in the VGLC's platformer path-finder and the A* agents of the Mario AI
competition (Baumgarten 2009), on tiles instead of a physics engine:
- on the ground: walk left or right, or jump (start rising, straight or diagonally);
- rising: up to `jump_height` rows per jump, one column sideways at most per row, or one column sideways
  without rising (the hang time at the top of a jump); a ceiling stops the rise;
- falling: down one row, one column sideways at most; off the bottom of the level is death;
- in the air at most `air_columns` columns sideways per jump (a jump's horizontal reach: speed is finite).
With the defaults (4 rows, 7 columns) Mario climbs a wall of 4 tiles but not 5, and clears a pit of 6
columns between floors at the same height but not 7. That is the least reach that solves every level of
the corpus (a test checks all 15: 5-3 and 8-1 have 6-column pits, pipes are 4 high), and about a running
jump in the game.
Enemies are hazards: walking or rising into one is death; falling onto one is a stomp (allowed).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

Point = tuple[int, int]  # (column, row), row 0 at the top
SOLID = frozenset("XSQ?<>[]Bb")  # the tiles smb.json calls solid (a test keeps them equal)
ENEMIES = frozenset("E")  # ... and enemy


@dataclass(frozen=True)
class Physics:
    jump_height: int = 4  # rows Mario can rise in one jump
    air_columns: int = 7  # columns Mario can move sideways during one jump or fall

    @property
    def widest_gap(self) -> int:
        """The widest pit (in columns) cleared between two floors at the same height."""
        return self.air_columns - 1


def solve(rows: list[str] | tuple[str, ...], solid: frozenset[str] = SOLID, enemies: frozenset[str] = ENEMIES,
          physics: Physics = Physics()) -> list[Point] | None:
    """The shortest path (in moves) from a standing place in the first column to any place in the last,
    or None when Mario cannot get there."""
    h, w = len(rows), len(rows[0])

    def blocked(x: int, y: int) -> bool:  # outside the sides or the top counts as a wall
        return not (0 <= x < w and 0 <= y < h) or rows[y][x] in solid

    def enemy(x: int, y: int) -> bool:
        return rows[y][x] in enemies

    def on_ground(x: int, y: int) -> bool:
        return y + 1 < h and rows[y + 1][x] in solid

    starts = [(0, y) for y in range(h) if not blocked(0, y) and not enemy(0, y) and on_ground(0, y)] or \
             ([(0, 0)] if not blocked(0, 0) else [])
    State = tuple[int, int, int, int]  # x, y, rows of rise left, columns moved in the air
    tie = itertools.count()
    frontier: list[tuple[int, int, int, State]] = []
    cost: dict[State, int] = {}
    parent: dict[State, State | None] = {}
    for x, y in starts:
        state = (x, y, 0, 0)
        cost[state], parent[state] = 0, None
        heapq.heappush(frontier, (w - 1 - x, w - 1 - x, next(tie), state))

    def moves(state: State):
        x, y, up, air = state
        if up == 0 and on_ground(x, y):  # standing: walk, or jump
            for dx in (-1, 1):
                if not blocked(x + dx, y) and not enemy(x + dx, y):
                    yield (x + dx, y, 0, 0)
            if not blocked(x, y - 1):
                for dx in (-1, 0, 1):
                    if not blocked(x + dx, y - 1) and not enemy(x + dx, y - 1):
                        yield (x + dx, y - 1, physics.jump_height - 1, abs(dx))
            return
        for dx in (-1, 0, 1):
            if air + abs(dx) > physics.air_columns:
                continue
            corner = dx == 0 or not blocked(x + dx, y)
            if up > 0 and not blocked(x + dx, y - 1) and not enemy(x + dx, y - 1) and (corner or not blocked(x, y - 1)):
                yield (x + dx, y - 1, up - 1, air + abs(dx))
            if up > 0 and dx and not blocked(x + dx, y) and not enemy(x + dx, y):  # hang time near the top of a jump
                yield (x + dx, y, up, air + 1)
            if y + 1 < h and not blocked(x + dx, y + 1) and (corner or not blocked(x, y + 1)):  # onto an enemy: a stomp
                landed = on_ground(x + dx, y + 1)
                yield (x + dx, y + 1, 0, 0 if landed else air + abs(dx))

    while frontier:
        _, _, _, state = heapq.heappop(frontier)
        if state[0] == w - 1:
            path = []
            node: State | None = state
            while node is not None:
                path.append((node[0], node[1]))
                node = parent[node]
            return path[::-1]
        for nxt in moves(state):
            c = cost[state] + 1
            if c < cost.get(nxt, 1 << 30):
                cost[nxt], parent[nxt] = c, state
                heapq.heappush(frontier, (c + w - 1 - nxt[0], w - 1 - nxt[0], next(tie), nxt))
    return None
