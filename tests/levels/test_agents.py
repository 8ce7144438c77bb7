"""The playability agents: Mario's A* solves every corpus level and fails where a jump cannot reach;
Zelda's check finds rooms whose doors are cut off."""

from __future__ import annotations

from noisecraft.data.levels.agents import play
from noisecraft.data.levels.mario import Physics, SOLID
from noisecraft.data.levels.render import render
from noisecraft.data.levels.tiles import GAMES, load_levels

REACH = Physics()
SKY, GROUND = "-", "X"


def flat(width: int = 40, height: int = 14) -> list[list[str]]:
    grid = [[SKY] * width for _ in range(height)]
    grid[-1] = [GROUND] * width
    return grid


def rows(grid: list[list[str]]) -> list[str]:
    return ["".join(r) for r in grid]


def with_pit(width: int) -> list[str]:
    grid = flat()
    for x in range(15, 15 + width):
        grid[-1][x] = SKY
    return rows(grid)


def with_wall(height: int) -> list[str]:
    grid = flat()
    for y in range(13 - height, 13):
        grid[y][20] = GROUND
        grid[y][21] = GROUND
    return rows(grid)


def check_path(level: list[str] | tuple[str, ...], path: list[tuple[int, int]]) -> None:
    assert path[0][0] == 0 and path[-1][0] == len(level[0]) - 1
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        assert abs(x1 - x0) <= 1 and abs(y1 - y0) <= 1
    assert all(level[y][x] not in SOLID for x, y in path)


def test_the_agent_solves_every_corpus_level():
    for level in load_levels(GAMES["smb"]):
        result = play(level.rows, "smb")
        assert result.playable, level.name
        check_path(level.rows, result.paths[0])


def test_a_pit_wider_than_a_jump_is_unplayable():
    assert REACH.widest_gap == 6
    assert play(with_pit(REACH.widest_gap), "smb").playable
    assert not play(with_pit(REACH.widest_gap + 1), "smb").playable


def test_a_wall_taller_than_a_jump_is_unplayable():
    assert play(with_wall(REACH.jump_height), "smb").playable
    assert not play(with_wall(REACH.jump_height + 1), "smb").playable


def test_corpus_levels_made_unplayable_by_hand():
    level = [list(r) for r in load_levels(GAMES["smb"])[0].rows]  # mario-1-1
    pit = [r[:] for r in level]
    for y in range(14):
        for x in range(100, 108):  # an 8-column chasm, top to bottom
            pit[y][x] = SKY
    assert not play(rows(pit), "smb").playable
    wall = [r[:] for r in level]
    for y in range(0, 14):
        wall[y][100] = GROUND  # a wall up to the top of the screen
    assert not play(rows(wall), "smb").playable


def test_enemies_are_jumped_or_stomped_but_never_walked_into():
    grid = flat()
    for x in range(18, 21):
        grid[-2][x] = "E"
    assert play(rows(grid), "smb").playable  # jump over them
    for x in range(12, 30):
        for y in range(12):
            grid[y][x] = GROUND  # a tunnel one tile high: no room to jump, nothing to climb over
    assert not play(rows(grid), "smb").playable


def test_zelda_rooms_need_every_door_reachable():
    room = ["WWWWWWWWWWW", "WWWWDDDWWWW"] + ["WWFFFFFFFWW"] * 5 + ["WDFFFFFFFDW"] * 2 + ["WWFFFFFFFWW"] * 5 + \
           ["WWWWDDDWWWW", "WWWWWWWWWWW"]
    result = play(room, "zelda")
    assert result.playable and len(result.paths) == 3  # first door to each of the three others
    cut = room[:6] + ["WWBBBBBBBWW"] + room[7:]  # a row of blocks between the top door and the rest
    assert not play(cut, "zelda").playable
    moat = [r.replace("F", "P", 1) if i == 8 else r for i, r in enumerate(room)]
    assert play(moat, "zelda").playable  # one water tile is walked around
    rooms = load_levels(GAMES["zelda"])
    share = sum(play(r.rows, "zelda").playable for r in rooms) / len(rooms)
    assert 0.75 < share < 0.9  # pushable blocks and items (ladder, bombs) open the rest in the game


def test_levels_render_with_the_path_drawn():
    level = with_pit(3)
    clean = render(level, "smb", tile=8)
    drawn = render(level, "smb", play(level, "smb").paths, tile=8)
    assert clean.size == (40 * 8, 14 * 8)
    assert list(clean.getdata()) != list(drawn.getdata())
    red = sum(1 for p in drawn.getdata() if p == (230, 20, 20))
    assert red > 40 * 8  # a line across the whole level
