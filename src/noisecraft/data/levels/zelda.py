"""Door-to-door reachability in a Zelda room: can Link walk from every door (and stair) to every other?

Link walks on floor (F), doors (D), stairs (S), monsters (M: fought, not walls) and floor-with-element (O);
blocks (B), walls (W), water or lava (P), element-blocks (I) and void (-) stop him. A door is a connected
group of door tiles. A room is playable when it has a door and all its doors and stairs lie in one walkable
region; the paths drawn join the first door to each of the others.
"""

from __future__ import annotations

from collections import deque

Point = tuple[int, int]  # (column, row)
WALKABLE = set("FDSMO")


def regions(rows: list[str] | tuple[str, ...], tiles: set[str]) -> list[list[Point]]:
    """4-connected groups of the cells holding any of `tiles`."""
    h, w = len(rows), len(rows[0])
    seen: set[Point] = set()
    groups = []
    for y in range(h):
        for x in range(w):
            if rows[y][x] in tiles and (x, y) not in seen:
                group, queue = [], deque([(x, y)])
                seen.add((x, y))
                while queue:
                    cx, cy = queue.popleft()
                    group.append((cx, cy))
                    for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                        if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in seen and rows[ny][nx] in tiles:
                            seen.add((nx, ny))
                            queue.append((nx, ny))
                groups.append(group)
    return groups


def shortest_path(rows: list[str] | tuple[str, ...], start: Point, goals: set[Point]) -> list[Point] | None:
    """Breadth-first over walkable tiles from `start` to the nearest of `goals`."""
    h, w = len(rows), len(rows[0])
    parent: dict[Point, Point | None] = {start: None}
    queue = deque([start])
    while queue:
        cx, cy = queue.popleft()
        if (cx, cy) in goals:
            path, node = [], (cx, cy)
            while node is not None:
                path.append(node)
                node = parent[node]
            return path[::-1]
        for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
            if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in parent and rows[ny][nx] in WALKABLE:
                parent[(nx, ny)] = (cx, cy)
                queue.append((nx, ny))
    return None


def solve(rows: list[str] | tuple[str, ...]) -> list[list[Point]] | None:
    """Paths from the first door to every other door and stair, or None when one cannot be reached (or the
    room has no door)."""
    exits = regions(rows, {"D"}) + [[p] for p in (pt for g in regions(rows, {"S"}) for pt in g[:1])]
    if not exits:
        return None
    start = exits[0][0]
    paths = []
    for goal in exits[1:]:
        path = shortest_path(rows, start, set(goal))
        if path is None:
            return None
        paths.append(path)
    return paths or [[start]]
