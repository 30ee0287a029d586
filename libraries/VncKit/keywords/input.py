"""Keyboard and pointer input."""

from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from VncKit.errors import VncError
from VncKit.keysyms import char_keysym, key_combo
from VncKit.keywords.base import KeywordGroup

BUTTONS = {"left": 1, "middle": 2, "right": 3, "wheel_up": 4, "wheel_down": 5}


def button_mask(button: str | int) -> int:
    text = str(button).strip().lower()
    number = BUTTONS.get(text) or (int(text) if text.isdigit() else 0)
    if not 1 <= number <= 8:
        raise VncError(f"'{button}' is not a mouse button", "buttons are 1-8 or left, middle, right, wheel_up, "
                       "wheel_down", "write button=left or button=3")
    return 1 << (number - 1)


class InputKeywords(KeywordGroup):
    @keyword("Press Key On Desktop", tags=["input"])
    def press_key_on_desktop(self, key: str, alias: str | None = None) -> None:
        """Press and release a key, by X11 keysym name or character; ``+`` joins a combination.

        Names: a single character (``a``, ``A``, ``7``), ``Return``, ``Escape``, ``Tab``, ``BackSpace``,
        ``F1``..``F12``, ``Left``/``Up``..., ``Control_L``, ``Shift_L``, ``Alt_L``, ``Super_L``, or a
        hexadecimal keysym (``0xff0d``). Modifiers are held while the last key is pressed.

        Example:
        | Press Key On Desktop | Return |
        | Press Key On Desktop | Control_L+Alt_L+Delete |
        """
        client = self.client(alias)
        client.drain()  # apply what arrived: the next update request is pending, as in a browser
        codes = key_combo(key)
        for code in codes:
            client.key(code, True)
        for code in reversed(codes):
            client.key(code, False)
        logger.info(f"Pressed {key} ({', '.join(hex(c) for c in codes)})")

    @keyword("Type Text On Desktop", tags=["input"])
    def type_text_on_desktop(self, text: str, alias: str | None = None) -> None:
        """Type ``text`` key by key (newlines as Return). The server adds Shift where a character needs it.

        Example:
        | Type Text On Desktop | hello world |
        """
        client = self.client(alias)
        client.drain()  # apply what arrived: the next update request is pending, as in a browser
        for char in text:
            code = char_keysym(char)
            client.key(code, True)
            client.key(code, False)
        logger.info(f"Typed {len(text)} characters")

    @keyword("Move Pointer", tags=["input"])
    def move_pointer(self, x: int, y: int, alias: str | None = None) -> None:
        """Move the pointer to ``x``, ``y`` (pixels from the top-left corner) with no button held.

        Example:
        | Move Pointer | 100 | 50 |
        """
        client = self.client(alias)
        client.drain()  # apply what arrived: the next update request is pending, as in a browser
        self._check_inside(client.width, client.height, x, y)
        client.pointer(x, y, 0)

    @keyword("Click On Desktop", tags=["input"])
    def click_on_desktop(self, x: int, y: int, button: str = "left", alias: str | None = None) -> None:
        """Click ``button`` (``left``, ``middle``, ``right``, or 1-8) at ``x``, ``y``.

        Example:
        | Click On Desktop | 200 | 150 |
        | Click On Desktop | 200 | 150 | button=right |
        """
        client = self.client(alias)
        client.drain()  # apply what arrived: the next update request is pending, as in a browser
        self._check_inside(client.width, client.height, x, y)
        mask = button_mask(button)
        client.pointer(x, y, 0)
        client.pointer(x, y, mask)
        client.pointer(x, y, 0)
        logger.info(f"Clicked {button} at {x},{y}")

    @staticmethod
    def _check_inside(width: int, height: int, x: int, y: int) -> None:
        if not (0 <= x < width and 0 <= y < height):
            raise VncError(f"Point {x},{y} is outside the {width}x{height} desktop",
                           fix=f"use 0 <= x < {width} and 0 <= y < {height}")
