"""X11 keysyms by name, as RFB key events carry them (``Return``, ``a``, ``F1``, ``Control_L``)."""

from __future__ import annotations

from VncKit.errors import VncError

NAMED: dict[str, int] = {
    "BackSpace": 0xFF08, "Tab": 0xFF09, "Return": 0xFF0D, "Enter": 0xFF0D, "Pause": 0xFF13,
    "Escape": 0xFF1B, "Esc": 0xFF1B, "Delete": 0xFFFF, "Home": 0xFF50, "Left": 0xFF51, "Up": 0xFF52,
    "Right": 0xFF53, "Down": 0xFF54, "Page_Up": 0xFF55, "Prior": 0xFF55, "Page_Down": 0xFF56,
    "Next": 0xFF56, "End": 0xFF57, "Insert": 0xFF63, "Menu": 0xFF67, "Print": 0xFF61,
    "Shift_L": 0xFFE1, "Shift_R": 0xFFE2, "Control_L": 0xFFE3, "Control_R": 0xFFE4,
    "Caps_Lock": 0xFFE5, "Meta_L": 0xFFE7, "Meta_R": 0xFFE8, "Alt_L": 0xFFE9, "Alt_R": 0xFFEA,
    "Super_L": 0xFFEB, "Super_R": 0xFFEC, "space": 0x20, "Space": 0x20,
    "KP_Enter": 0xFF8D, "Num_Lock": 0xFF7F, "Scroll_Lock": 0xFF14,
}
NAMED.update({f"F{n}": 0xFFBE + n - 1 for n in range(1, 13)})
ALIASES = {"ctrl": "Control_L", "control": "Control_L", "shift": "Shift_L", "alt": "Alt_L",
           "super": "Super_L", "win": "Super_L", "meta": "Meta_L", "enter": "Return", "esc": "Escape",
           "del": "Delete", "pgup": "Page_Up", "pgdn": "Page_Down", "backspace": "BackSpace"}
_LOWER = {name.lower(): code for name, code in NAMED.items()}


def char_keysym(char: str) -> int:
    """The keysym that types ``char``: Latin-1 maps directly, other Unicode to 0x01000000 + code point."""
    if char == "\n":
        return NAMED["Return"]
    if char == "\t":
        return NAMED["Tab"]
    code = ord(char)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


def keysym(name: str) -> int:
    """``Return`` -> 0xFF0D, ``a`` -> 0x61, ``F1`` -> 0xFFBE, ``0xff0d`` -> 0xFF0D."""
    text = name.strip() if len(name.strip()) > 0 else name
    if len(text) == 1:
        return char_keysym(text)
    if text in NAMED:
        return NAMED[text]
    lowered = text.lower()
    if lowered in ALIASES:
        return NAMED[ALIASES[lowered]]
    if lowered in _LOWER:
        return _LOWER[lowered]
    if lowered.startswith("0x"):
        try:
            return int(lowered, 16)
        except ValueError:
            pass
    raise VncError(f"Unknown key '{name}'", "it is not a keysym name VncKit knows",
                   "use a single character, an X11 keysym name (Return, Escape, F1, Control_L, Left...) "
                   "or a hexadecimal keysym like 0xff0d")


def key_combo(combo: str) -> list[int]:
    """``Control_L+c`` or ``ctrl+alt+Delete`` -> keysyms in press order. A lone ``+`` is the plus key."""
    if combo == "+" or "+" not in combo:
        return [keysym(combo)]
    parts = combo.split("+")
    if parts[-1] == "":  # "ctrl++"
        parts = [*parts[:-2], "+"]
    return [keysym(part) for part in parts]
