"""Levels as pictures: simple drawn tiles (Pillow shapes, no game art), and the agent's path on top."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageDraw

Point = tuple[int, int]
Box = tuple[int, int, int, int]
Draw = Callable[[ImageDraw.ImageDraw, Box], None]

SKY, VOID, FLOOR = (107, 140, 255), (0, 0, 0), (214, 196, 150)


def fill(color, outline=None) -> Draw:
    return lambda d, b: d.rectangle(b, fill=color, outline=outline)


def on(background, color, shape: str = "ellipse", inset: float = 0.2) -> Draw:
    """A shape (an enemy, a coin) drawn over a background tile."""
    def draw(d: ImageDraw.ImageDraw, b: Box) -> None:
        d.rectangle(b, fill=background)
        m = int((b[2] - b[0]) * inset)
        inner = (b[0] + m, b[1] + m, b[2] - m, b[3] - m)
        d.ellipse(inner, fill=color) if shape == "ellipse" else d.rectangle(inner, fill=color)
    return draw


def brick(color, mortar) -> Draw:
    def draw(d: ImageDraw.ImageDraw, b: Box) -> None:
        d.rectangle(b, fill=color, outline=mortar)
        mid_y, mid_x = (b[1] + b[3]) // 2, (b[0] + b[2]) // 2
        d.line((b[0], mid_y, b[2], mid_y), fill=mortar)
        d.line((mid_x, b[1], mid_x, mid_y), fill=mortar)
    return draw


STYLES: dict[str, dict[str, Draw]] = {
    "smb": {
        "-": fill(SKY), "X": brick((200, 76, 12), (120, 40, 0)), "S": brick((180, 60, 20), (240, 200, 160)),
        "?": on((252, 188, 60), (160, 80, 0), "rect", 0.35), "Q": fill((150, 100, 60), (90, 60, 30)),
        "E": on(SKY, (140, 50, 20)), "o": on(SKY, (252, 216, 0), inset=0.3),
        "<": fill((60, 200, 60), (0, 90, 0)), ">": fill((0, 150, 0), (0, 90, 0)),
        "[": fill((60, 200, 60), (0, 90, 0)), "]": fill((0, 150, 0), (0, 90, 0)),
        "B": on((30, 30, 30), (150, 150, 150)), "b": fill((70, 70, 70), (30, 30, 30)),
    },
    "zelda": {
        "F": fill(FLOOR), "B": fill((70, 90, 140), (30, 40, 80)), "M": on(FLOOR, (200, 30, 30)),
        "P": fill((40, 90, 210)), "O": on(FLOOR, (40, 90, 210), "rect", 0.3), "I": fill((20, 40, 120), (0, 0, 60)),
        "D": fill((130, 70, 20), (60, 30, 0)), "S": brick(FLOOR, (90, 70, 40)), "W": fill((80, 80, 80), (50, 50, 50)),
        "-": fill(VOID),
    },
}
PATH_COLOR = {"smb": (230, 20, 20), "zelda": (255, 230, 0)}


def render(rows: list[str] | tuple[str, ...], game: str, paths: list[list[Point]] | None = None,
           tile: int = 16) -> Image.Image:
    """The level drawn tile by tile, with each path as a line through the tiles it visits."""
    style = STYLES[game]
    image = Image.new("RGB", (len(rows[0]) * tile, len(rows) * tile), VOID)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            style.get(char, fill((255, 0, 255)))(draw, (x * tile, y * tile, (x + 1) * tile - 1, (y + 1) * tile - 1))
    color, width = PATH_COLOR[game], max(1, tile // 5)
    for path in paths or []:
        centers = [(x * tile + tile // 2, y * tile + tile // 2) for x, y in path]
        if len(centers) > 1:
            draw.line(centers, fill=color, width=width, joint="curve")
        for cx, cy in (centers[0], centers[-1]):
            r = max(2, tile // 4)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=color)
    return image


def render_grid(images: list[Image.Image], columns: int = 1, gap: int = 4) -> Image.Image:
    """Several renderings stacked in a grid on a white background (sample sheets, README figures)."""
    w, h = max(i.width for i in images), max(i.height for i in images)
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * (w + gap) + gap, rows * (h + gap) + gap), (255, 255, 255))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet.paste(image, (gap + c * (w + gap), gap + r * (h + gap)))
    return sheet
