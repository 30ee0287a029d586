"""A full-screen X client that visibly reacts to keyboard input.

Each key press paints the next cell of a grid in a colour derived from the key, so typed
input comes back to a VNC viewer as changed pixels. Pointer clicks paint a cross where they
land. Needs only python3 and python-xlib (Debian's python3-xlib, or PyPI's python-xlib).

    DISPLAY=:1 python3 keyboard_display.py
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from Xlib import X, display, error

CELL = 16
MARGIN = 8
READY_MARK = 0x808080


def colour_for(code: int) -> int:
    """A bright 24-bit colour for a key code (never black, never the background)."""
    red = (code * 97) % 200 + 55
    green = (code * 57) % 200 + 55
    blue = (code * 31) % 200 + 55
    return (red << 16) | (green << 8) | blue


def connect(name: str | None, timeout: float = 10.0) -> display.Display:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return display.Display(name)
        except (error.DisplayError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def ready_mark(window: Any, gc: Any, width: int) -> None:
    """A grey line along the top edge: the screen is no longer one colour once this program listens for
    keys and clicks (a viewer waits for that before it types or clicks; typed cells start below it)."""
    gc.change(foreground=READY_MARK)
    window.fill_rectangle(gc, 0, 0, width, 2)


def main() -> int:
    disp = connect(os.environ.get("DISPLAY"))
    screen = disp.screen()
    width, height = screen.width_in_pixels, screen.height_in_pixels
    window = screen.root.create_window(
        0, 0, width, height, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=screen.black_pixel,
        event_mask=X.ExposureMask | X.KeyPressMask | X.ButtonPressMask | X.StructureNotifyMask,
        override_redirect=True,
    )
    window.map()
    window.set_input_focus(X.RevertToParent, X.CurrentTime)
    gc = window.create_gc(foreground=screen.white_pixel, background=screen.black_pixel)
    ready_mark(window, gc, width)
    columns = max(1, (width - 2 * MARGIN) // CELL)
    typed = 0
    disp.flush()
    print("keyboard display ready", flush=True)
    while True:
        event = disp.next_event()
        if event.type == X.KeyPress:
            row, col = divmod(typed % (columns * max(1, (height - 2 * MARGIN) // CELL)), columns)
            gc.change(foreground=colour_for(event.detail))
            window.fill_rectangle(gc, MARGIN + col * CELL, MARGIN + row * CELL, CELL - 2, CELL - 2)
            typed += 1
        elif event.type == X.ButtonPress:
            gc.change(foreground=screen.white_pixel)
            window.fill_rectangle(gc, event.event_x - 6, event.event_y - 1, 13, 3)
            window.fill_rectangle(gc, event.event_x - 1, event.event_y - 6, 3, 13)
        elif event.type == X.Expose and event.count == 0:
            ready_mark(window, gc, width)
            window.set_input_focus(X.RevertToParent, X.CurrentTime)
        disp.flush()


if __name__ == "__main__":
    sys.exit(main())
